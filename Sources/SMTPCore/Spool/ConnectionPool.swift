import Foundation
import Logging
import NIOCore

/// Idle SMTP/LMTP connections per next hop, reused for the next message (RFC 5321 §3.3 allows
/// several transactions per session). A connection idle longer than `maxIdle` is closed rather
/// than reused, well before a server's 5-minute command timeout.
actor ConnectionPool {
    private var idle: [NextHop: [(connection: SMTPClientConnection, since: Date)]] = [:]
    let maxIdlePerHop: Int
    let maxIdle: TimeInterval

    init(maxIdlePerHop: Int = 20, maxIdle: TimeInterval = 30) {
        self.maxIdlePerHop = maxIdlePerHop
        self.maxIdle = maxIdle
    }

    /// A usable idle connection to `hop`, if there is one.
    func take(_ hop: NextHop) async -> SMTPClientConnection? {
        let now = Date()
        while var list = idle[hop], let last = list.popLast() {
            idle[hop] = list
            if now.timeIntervalSince(last.since) <= maxIdle, await last.connection.isUsable {
                return last.connection
            }
            await last.connection.close()
        }
        return nil
    }

    /// Keeps `connection` for reuse, or closes it when it is broken or the pool is full.
    func give(_ connection: SMTPClientConnection, to hop: NextHop) async {
        guard await connection.isUsable, idle[hop, default: []].count < maxIdlePerHop else {
            try? await connection.quit()
            return
        }
        idle[hop, default: []].append((connection, Date()))
    }

    /// Says QUIT on every idle connection (shutdown).
    func drain() async {
        let all = idle.values.flatMap { $0 }
        idle = [:]
        for item in all { try? await item.connection.quit() }
    }
}
