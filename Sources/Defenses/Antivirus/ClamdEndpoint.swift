/// Where one clamd instance listens: `TCPSocket`/`TCPAddr` or `LocalSocket` in clamd.conf(5).
public enum ClamdEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// A TCP listener, e.g. `127.0.0.1:3310`. clamd has no authentication: keep it on loopback
    /// or a private network.
    case tcp(host: String, port: Int)
    /// A Unix-domain stream socket, e.g. `/run/clamav/clamd.ctl` (Debian's default).
    case unixSocket(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): "unix:\(path)"
        }
    }

    /// Parses `host:port`, `[v6]:port`, `unix:/path` or an absolute path.
    public init?(_ text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { return nil }
            self = .unixSocket(path: path)
        } else if text.hasPrefix("/") {
            self = .unixSocket(path: text)
        } else if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port), !host.isEmpty else { return nil }
            self = .tcp(host: host, port: port)
        } else {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                  (1...65535).contains(port) else { return nil }
            let host = String(text[..<colon])
            guard !host.isEmpty, !host.contains(":") else { return nil }
            self = .tcp(host: host, port: port)
        }
    }
}
