import Foundation

/// Where a ``PostgresStateStore`` connects, read from a connection URL
/// (`postgres://user:password@host:5432/database?sslmode=require`, the libpq form of
/// [PostgreSQL §34.1.1](https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING)).
///
/// ``description`` never shows the password (DESIGN.md §3.5: logs carry no credentials).
public struct PostgresStateConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// `sslmode`: `disable`, `prefer` (the default: TLS when the server offers it) or `require`.
    public enum TLSMode: String, Sendable, Hashable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var tls: TLSMode
    /// Connections each node keeps open at most (default 8).
    public var maxConnections: Int

    public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String? = nil,
                tls: TLSMode = .prefer, maxConnections: Int = 8) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.maxConnections = maxConnections
    }

    /// Parses `postgres://` or `postgresql://` URLs; `nil` when the text is not one (no host, no
    /// user, a bad port or an unknown `sslmode`).
    public init?(url text: String) {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql",
              let host = components.host, !host.isEmpty,
              let user = components.user, !user.isEmpty
        else { return nil }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else { return nil }
                tls = mode
            default:
                return nil
            }
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.init(host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
                  password: components.password.map { $0.removingPercentEncoding ?? $0 },
                  database: path.isEmpty ? nil : path, tls: tls)
    }

    /// The URL with the password replaced by `***`, for logs and `mailnode review`.
    public var description: String {
        let credentials = password == nil ? username : "\(username):***"
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(credentials)@\(hostText):\(port)/\(database ?? "")?sslmode=\(tls.rawValue)"
    }
}
