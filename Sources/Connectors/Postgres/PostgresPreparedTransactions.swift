import ConnectorKit

/// The prepared transactions of `streams = 2` for one pipeline: their names, and settling them
/// after a crash.
///
/// The second stream's transaction is PREPAREd as `sluice/<pipeline>/<sequence>/<run token>`,
/// then the checkpoint is committed naming it, then it is committed. After a crash anywhere in
/// between, the checkpoint row says which prepared transaction belongs to committed data (commit
/// it) and which do not (roll them back). Settling and the commit that names one hold the same
/// advisory lock, so an open of another run never rolls back one that is about to be named.
struct PostgresPreparedTransactions {
    /// The advisory lock's first key ("S2PC"); its second is `hashtext(pipeline)`. The two-key
    /// form is a lock space apart from the run coordinator's single 64-bit keys.
    static let lockClass: Int32 = 0x5332_5043
    /// PostgreSQL's limit on a prepared transaction's name is 199 bytes.
    static let longestPipelineKey = 120

    let pipeline: String
    /// `sluice/<pipeline>/`, or a hash of a long name.
    let prefix: String

    init(pipeline: String) {
        self.pipeline = pipeline
        let key = pipeline.utf8.count <= Self.longestPipelineKey ? pipeline : "#" + String(Self.fnv1a(pipeline), radix: 16)
        prefix = "sluice/" + key + "/"
    }

    func name(sequence: Int64, token: String) -> String { "\(prefix)\(sequence)/\(token)" }

    /// One of this pipeline's, and not of a pipeline whose name continues with a `/`.
    func isOurs(_ gid: String) -> Bool {
        guard gid.hasPrefix(prefix) else { return false }
        let rest = gid.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        return rest.count == 2 && Int64(rest[0]) != nil && !rest[1].isEmpty
    }

    var lockArguments: String { "\(Self.lockClass), hashtext(\(SQL.literal(pipeline)))" }

    /// Commits the prepared transaction `named()` reads from the committed checkpoint, and rolls
    /// back every other one of this pipeline. Runs outside a transaction (`COMMIT PREPARED` may
    /// not run inside one). Returns what it did, for the log.
    func settle(_ conn: PQConnection, named: () throws(PQError) -> String?) throws(PQError) -> (committed: [String], rolledBack: [String]) {
        _ = try conn.exec("SELECT pg_advisory_lock(\(lockArguments))")
        defer { _ = try? conn.exec("SELECT pg_advisory_unlock(\(lockArguments))") }
        let keep = try named()
        let found = try conn.exec("SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1)", [prefix])
            .compactMap { $0.first ?? nil }.filter(isOurs)
        var committed: [String] = [], rolledBack: [String] = []
        for gid in found.sorted() {
            if gid == keep {
                _ = try conn.exec("COMMIT PREPARED \(SQL.literal(gid))")
                committed.append(gid)
            } else {
                _ = try conn.exec("ROLLBACK PREPARED \(SQL.literal(gid))")
                rolledBack.append(gid)
            }
        }
        return (committed, rolledBack)
    }

    /// True when `gid` is still prepared, checked inside the transaction about to name it, after
    /// taking the lock `settle` takes (held to that transaction's end).
    func stillPrepared(_ gid: String, _ conn: PQConnection) throws(PQError) -> Bool {
        _ = try conn.exec("SELECT pg_advisory_xact_lock(\(lockArguments))")
        return try !conn.exec("SELECT 1 FROM pg_prepared_xacts WHERE gid = $1", [gid]).isEmpty
    }

    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}
