import ConnectorKit
import Foundation

/// The PostgreSQL database that daemons on several machines coordinate through (`[daemon.cluster]`
/// in sluice.toml): how to reach it and how this daemon is named there.
public struct PostgresClusterDatabase: Sendable {
    public let url: String
    let password: String?
    /// How other daemons see this one (`application_name` of its lock sessions, `sluice_runs.node`).
    public let node: String
    let connectTimeout: Int

    public init(url: String, password: String?, node: String, connectTimeout: Double = 10) {
        self.url = url
        self.password = password
        self.node = node
        self.connectTimeout = max(1, Int(connectTimeout))
    }

    /// `host-name:1a2b3c4d`, the second part from the state folder's path: unique among the
    /// daemons of a cluster (two on one machine have two state folders), the same after a restart
    /// (its dead-letter file keeps its key), readable in `pg_stat_activity`.
    public static func defaultNode(stateDirectory: String) -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(cString: name) : "sluice"
        var hash: UInt32 = 2_166_136_261 // FNV-1a
        for byte in URL(fileURLWithPath: stateDirectory).standardizedFileURL.path.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return "\(host.prefix(36)):\(String(format: "%08x", hash))"
    }

    /// The database and host, without user or parameters, for logs.
    public var description: String {
        if let u = URLComponents(string: url), let host = u.host {
            return host + (u.port.map { ":\($0)" } ?? "") + u.path
        }
        return "the cluster database"
    }

    /// A new session; the caller owns it (and the thread it is used on).
    func connect(purpose: String) throws -> PQConnection {
        do {
            return try PQConnection(conninfo: url, password: password, connectTimeout: connectTimeout, ioTimeout: 60,
                                    applicationName: "sluice-\(purpose) \(node)")
        } catch {
            throw ConnectorError(error.loginRefused ? .authentication : .notConnected,
                                 "cannot connect to the cluster database \(description): \(error)", plugin: "cluster", underlying: error)
        }
    }

    /// Runs `body`, turning libpq errors into `ConnectorError`s that say where.
    func run<T>(_ what: String, _ body: () throws(PQError) -> T) throws -> T {
        do { return try body() } catch {
            throw ConnectorError(error.connectionLost || error.timedOut ? .notConnected : .other,
                                 "cluster database \(description): \(what): \(error)", plugin: "cluster", underlying: error)
        }
    }

    /// `CREATE … IF NOT EXISTS`, allowing for another daemon creating the same table at once.
    func createAllowingRace(_ sql: String, _ conn: PQConnection) throws {
        do { _ = try conn.exec(sql) } catch {
            guard SQL.concurrentCreationStates.contains(error.sqlState) else {
                throw ConnectorError(.other, "cluster database \(description): \(error)", plugin: "cluster", underlying: error)
            }
        }
    }
}
