import ConnectorKit
import Foundation

/// The second COPY stream of `streams = 2`: its own connection, transaction and thread, so the
/// server runs two COPY backends at once and this stream's rows are encoded beside the sink's.
///
/// The sink hands it whole batches (`send`, which returns at once unless two are already
/// waiting). At the sink's commit its transaction is PREPAREd, the sink commits its own with the
/// checkpoint (naming this prepared transaction), then commits this one (`PostgresSink.commit`);
/// `PostgresSink.resolvePrepared` finishes the job after a crash in between.
///
/// `@unchecked Sendable`: `jobs`, `busy` and `failure` are only touched under `condition`'s lock;
/// `state` (the connection, encoder and COPY) only by a job on the executor's thread (one at a
/// time, in queue order), or by `reset` after it has seen no job running.
final class PostgresSecondStream: @unchecked Sendable {
    struct Settings: Sendable {
        var conninfo: String
        var password: String?
        var connectTimeout: Int
        var ioTimeout: Double
        var applicationName: String
    }

    /// What only the worker thread touches.
    private final class State {
        var connection: PQConnection?
        var encoder = PostgresCopyEncoder()
        var inTransaction = false
        var copyOpen = false
        var copyTarget = ""
        var copyColumns = ""
    }

    private typealias Job = (State) throws(PQError) -> Void

    /// Batches waiting beyond this make `send` wait: memory stays bounded when the server is slower.
    static let queueLimit = 2

    private let settings: Settings
    private let state = State()
    private let executor = ThreadExecutor(name: "sluice-postgres-2")
    private let condition = NSCondition()
    /// Jobs waiting; the executor runs one per `runNext` block queued beside each.
    private var jobs: [Job] = []
    private var busy = false
    private var failure: PQError?

    init(_ settings: Settings) {
        self.settings = settings
    }

    // MARK: Called by the sink (on its thread)

    /// Queues `rows` of `batch` for their tables (each group's rows go to one table); waits while
    /// the queue is full. A failure of an earlier job is thrown here or by the next `drain`.
    func send(_ batch: RecordBatch, groups: [(table: String, rows: [Int])]) throws(PQError) {
        let columns = batch.schema.names.map(SQL.identifier).joined(separator: ", ")
        try enqueue(waitingBelow: Self.queueLimit) { (s) throws(PQError) in
            let conn = try Self.connected(s, self.settings)
            if !s.inTransaction {
                _ = try conn.exec("BEGIN")
                s.inTransaction = true
            }
            for group in groups where !group.rows.isEmpty {
                if s.copyOpen && (s.copyTarget != group.table || s.copyColumns != columns) { try Self.endCopy(s, conn) }
                if !s.copyOpen {
                    try conn.beginCopy("COPY \(group.table) (\(columns)) FROM STDIN (FORMAT binary)")
                    s.copyOpen = true
                    s.copyTarget = group.table
                    s.copyColumns = columns
                    try conn.putCopyData(PostgresBinaryCopy.header)
                }
                s.encoder.encode(batch, rows: group.rows.count == batch.count ? nil : group.rows, framed: false)
                try s.encoder.withEncodedBytes { (data) throws(PQError) in try conn.putCopyData(data) }
            }
        }
    }

    /// Waits for every batch sent and ends the open COPY: the server's verdict on each row is in.
    func endCopy() throws(PQError) {
        try perform { (s) throws(PQError) in
            if let conn = s.connection, s.copyOpen { try Self.endCopy(s, conn) }
        }
    }

    /// Ends the COPY and prepares the transaction as `gid` (two-phase commit): it survives this
    /// connection and waits for `COMMIT PREPARED` or `ROLLBACK PREPARED` from any session.
    func prepare(_ gid: String) throws(PQError) {
        try perform { (s) throws(PQError) in
            guard let conn = s.connection, s.inTransaction else { return }
            if s.copyOpen { try Self.endCopy(s, conn) }
            s.inTransaction = false
            _ = try conn.exec("PREPARE TRANSACTION \(SQL.literal(gid))")
        }
    }

    /// Abandons the open transaction and forgets the connection (the server rolls back what it
    /// held); `politely` first ends the COPY and rolls back, never on a connection that failed.
    /// Clears a stored failure, so the stream can be used again.
    func reset(politely: Bool) {
        // Wait for the job in hand, drop the rest: the worker is then idle and `state` is ours.
        condition.lock()
        while busy { condition.wait() }
        jobs.removeAll()
        failure = nil
        condition.unlock()
        if politely, let conn = state.connection, conn.isAlive {
            if state.copyOpen { conn.abortCopy("sluice: closed without commit") }
            if state.inTransaction { _ = try? conn.exec("ROLLBACK") }
        }
        state.connection = nil
        state.inTransaction = false
        state.copyOpen = false
    }

    /// Ends the thread once its queue is empty (a later `send` starts a new one).
    func shutdown() {
        executor.shutdown()
    }

    // MARK: Queue

    /// Runs `body` after every queued job and waits for it; throws its failure or an earlier one.
    private func perform(_ body: @escaping Job) throws(PQError) {
        try enqueue(waitingBelow: Int.max, body)
        try drain()
    }

    /// Waits until no job is queued or running; throws the first failure since the last `reset`.
    private func drain() throws(PQError) {
        condition.lock()
        while (!jobs.isEmpty || busy) && failure == nil { condition.wait() }
        let failed = failure
        condition.unlock()
        if let failed { throw failed }
    }

    private func enqueue(waitingBelow limit: Int, _ job: @escaping Job) throws(PQError) {
        condition.lock()
        while jobs.count >= limit && failure == nil { condition.wait() }
        if let failed = failure {
            condition.unlock()
            throw failed
        }
        jobs.append(job)
        condition.unlock()
        executor.execute { self.runNext() }
    }

    /// Runs the oldest job, if any (a `reset` may have dropped it).
    private func runNext() {
        condition.lock()
        guard !jobs.isEmpty else {
            condition.unlock()
            return
        }
        let job = jobs.removeFirst()
        busy = true
        condition.unlock()
        var failed: PQError?
        do { try job(state) } catch { failed = error }
        condition.lock()
        busy = false
        // After a failure the transaction is dead: later jobs are dropped until `reset`.
        if let failed, failure == nil { failure = failed }
        if failure != nil { jobs.removeAll() }
        condition.broadcast()
        condition.unlock()
    }

    // MARK: On the worker thread

    private static func connected(_ s: State, _ settings: Settings) throws(PQError) -> PQConnection {
        if let conn = s.connection {
            guard conn.isAlive else { throw PQError(sqlState: "", message: "the second COPY stream's connection to PostgreSQL was lost", connectionLost: true) }
            return conn
        }
        let conn = try PQConnection(conninfo: settings.conninfo, password: settings.password, connectTimeout: settings.connectTimeout,
                                    ioTimeout: settings.ioTimeout, applicationName: settings.applicationName)
        s.connection = conn
        return conn
    }

    private static func endCopy(_ s: State, _ conn: PQConnection) throws(PQError) {
        s.copyOpen = false
        try conn.putCopyData(PostgresBinaryCopy.trailer)
        try conn.endCopy()
    }
}
