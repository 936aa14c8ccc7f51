import ConnectorKit
import CoreConnectors
import Foundation
import Logging

/// Loads batches into PostgreSQL with binary COPY. Exactly-once: the checkpoint is a row of
/// `sluice_checkpoints` written in the same transaction as the rows it covers, and read back from
/// there on open. Runs on its own thread (libpq blocks).
public actor PostgresSink: Sink {
    public static let checkpointTable = "sluice_checkpoints"

    nonisolated let executor = ThreadExecutor(name: "sluice-postgres")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let configuration: PostgresConfiguration
    let password: String?
    let logger: Logger
    private var pipeline = ""
    private var connection: PQConnection?
    private var inTransaction = false
    /// A write, flush or commit failed since `open`: nothing may be committed until the next open.
    private var failed = false
    private var tableSchema: Schema?
    private var knownPartitions = Set<String>()
    private let plan: PartitionPlan?
    /// Append mode streams batches into one open COPY (the server inserts while the next batch is
    /// encoded). Fast, as long as the server refuses no row: no savepoint, nothing kept, one COPY
    /// per table until the commit. A refusal then voids the whole transaction, so the sink rolls
    /// back, turns careful and asks the engine to replay (`ConnectorError.Code.replay`): careful,
    /// it streams segments under savepoints and keeps their rows until the server accepts them,
    /// so that refused ones can be found by bisection.
    private var stream: [(batch: RecordBatch, rows: [Int])] = []
    private var streamRows = 0
    private var copyOpen = false
    /// The open COPY's columns: a batch of another shape starts a new one.
    private var copySchema: Schema?
    /// The open COPY runs under a savepoint (was opened careful).
    private var copyUnderSavepoint = false
    /// Streams under savepoints (after a refusal) until `carefulRowsLeft` rows are committed:
    /// as many as the fast transaction that failed had sent, so the replay passes the refused row
    /// before the sink is fast again.
    private(set) var careful = false
    private var carefulRowsLeft = 0
    /// Rows streamed in the open transaction.
    private var rowsInTransaction = 0
    /// The table the open COPY fills: the target, or one of its partitions (rows go straight to
    /// theirs, grouped by interval; PostgreSQL then routes no row).
    private var copyTarget = ""
    /// Rows per streamed COPY: bounds the memory held for a retry and the work redone after a refusal.
    static let streamSegmentRows = 32_768
    /// Its buffers are reused from batch to batch.
    private var encoder = PostgresCopyEncoder()
    /// `streams = 2`: every other batch goes over this second connection (see `PostgresSecondStream`).
    private var second: PostgresSecondStream?
    /// The second stream has rows in its open transaction.
    private var secondInTransaction = false
    /// The next batch that may take the second stream does.
    private var secondsTurn = false
    /// DDL ran in the open transaction: the second connection cannot see what it made (and would
    /// wait for its locks), so the rest of the transaction runs on one stream.
    private var ddlInTransaction = false
    /// A transaction had to make a partition while the second stream held rows (its locks would
    /// block the DDL): it was rolled back, and its replay runs on one stream until this many rows
    /// are committed.
    private var oneStreamRowsLeft = 0
    /// Rows handed to the second stream since the sink was made (for tests and logs).
    private(set) var rowsOnSecondStream = 0
    /// Names this run's prepared transactions apart from any other run's.
    private var runToken = ""
    /// Where a test has `commit` stop as if the process died there.
    private var crashPoint: CommitCrashPoint?

    public init(configuration: PostgresConfiguration, password: String?, logger: Logger) {
        self.configuration = configuration
        self.password = password
        self.logger = logger
        plan = configuration.partition.map { PartitionPlan(interval: $0.interval) }
    }

    var target: String { SQL.qualified(configuration.schema, configuration.table) }

    // MARK: Sink

    /// The checkpoint is a row written in the data's own transaction.
    public nonisolated var checkpointCustody: CheckpointCustody { .sink }

    public func open(context: SinkContext) async throws -> Checkpoint {
        pipeline = context.pipeline
        // Whatever the last attempt left (a dead or half-used connection, an open transaction) is
        // dropped: the server rolls it back, and the checkpoint row says what is durable.
        dropConnection(politely: !failed)
        failed = false
        runToken = String(UInt32.random(in: .min ... .max), radix: 16)
        let conn = try connect()
        // Hosts of a hall open their sinks at once: the first to create the table wins the race.
        try createAllowingRace("""
            CREATE TABLE IF NOT EXISTS \(SQL.identifier("public")).\(SQL.identifier(Self.checkpointTable)) (
                pipeline text PRIMARY KEY, checkpoint jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())
            """, conn)
        // Always, also with one stream: a crash may have left the last run's prepared transaction.
        try resolvePrepared(conn)
        if configuration.streams == 2 { try startSecondStream(conn) }
        let rows = try run { try conn.exec("SELECT checkpoint::text FROM public.\(SQL.identifier(Self.checkpointTable)) WHERE pipeline = $1", [pipeline]) }
        guard let text = rows.first?.first ?? nil else { return Checkpoint() }
        do {
            return try JSONDecoder().decode(Checkpoint.self, from: Data(text.utf8))
        } catch {
            throw ConnectorError(.checkpoint, "the checkpoint of pipeline \(pipeline) in \(Self.checkpointTable) is unreadable: \(error)", pipeline: pipeline, plugin: "postgres")
        }
    }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
        try guarded { try writeBatch(batch) }
    }

    public func flush() async throws -> [DeadLetter] {
        try guarded {
            var refused: [DeadLetter] = []
            if copyOpen, let connection { refused = try endStream(connection) }
            try endSecondStream()
            return refused
        }
    }

    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint {
        try guarded {
            let conn = try connect()
            if copyOpen {
                // The engine flushes first; refusals found here would have nowhere to go.
                let refused = try endStream(conn)
                if !refused.isEmpty {
                    throw ConnectorError(.other, "\(refused.count) rows were refused at commit time (flush() was not called before commit)", pipeline: pipeline, plugin: "postgres")
                }
            }
            // The second stream's rows are prepared first; the checkpoint names them, so that
            // whatever happens after this, `resolvePrepared` knows whether they belong.
            var committed = checkpoint
            var prepared: String?
            if secondInTransaction, let second {
                try endSecondStream()
                let gid = self.prepared.name(sequence: checkpoint.sequence, token: runToken)
                try run { try second.prepare(gid) }
                prepared = gid
                if crashPoint == .afterPrepare { throw CommitCrashPoint.Crash() }
            }
            committed.sinkState[Self.preparedKey] = prepared
            let json = String(decoding: try JSONEncoder().encode(committed), as: UTF8.self)
            try beginIfNeeded(conn)
            // Fencing: the row moves only from the sequence this run opened at. Should two
            // daemons ever load the same pipeline at once (a coordination lock lost with its
            // connection), the second commit finds the row moved, changes nothing and fails, and
            // its transaction, rows included, is rolled back.
            let moved = try run {
                try conn.exec("""
                    INSERT INTO public.\(SQL.identifier(Self.checkpointTable)) AS c (pipeline, checkpoint, updated_at) VALUES ($1, $2::jsonb, now())
                    ON CONFLICT (pipeline) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = now()
                    WHERE COALESCE((c.checkpoint->>'sequence')::bigint, 0) = $3::bigint
                    RETURNING 1
                    """, [pipeline, json, String(checkpoint.sequence - 1)])
            }
            if moved.isEmpty {
                throw ConnectorError(.fenced, "the checkpoint of pipeline \(pipeline) was committed by another writer since this run started "
                                     + "(two daemons loading it at once?); this transaction is rolled back and the run starts again from that checkpoint",
                                     pipeline: pipeline, plugin: "postgres")
            }
            if let prepared { try checkStillPrepared(prepared, conn) }
            try run { try conn.exec("COMMIT") }
            inTransaction = false
            if let prepared {
                secondInTransaction = false
                if crashPoint == .afterCheckpointCommit { throw CommitCrashPoint.Crash() }
                // Should this fail, the checkpoint names the prepared rows: the next open commits them.
                try run { try conn.exec("COMMIT PREPARED \(SQL.literal(prepared))") }
            }
            ddlInTransaction = false
            if oneStreamRowsLeft > 0 { oneStreamRowsLeft -= rowsInTransaction }
            if careful {
                carefulRowsLeft -= rowsInTransaction
                if carefulRowsLeft <= 0 { careful = false }
            }
            rowsInTransaction = 0
            return committed
        }
    }

    /// Rolls back what was not committed, closes the connection and ends its thread.
    public func close() async throws {
        if rowsOnSecondStream > 0 {
            logger.debug("rows sent over the second connection since start", metadata: ["rows": "\(rowsOnSecondStream)"])
        }
        dropConnection(politely: !failed)
        second?.shutdown()
        executor.shutdown()
    }

    // MARK: Connection and errors

    /// Runs a step of the sink contract; a failure marks the sink failed, so nothing can be
    /// committed until `open` (see `Sink`): the rows of the dead transaction must not be covered
    /// by a checkpoint committed on a new connection.
    private func guarded<T>(_ body: () throws -> T) throws -> T {
        if failed {
            throw ConnectorError(.sinkFailed, "an earlier write to PostgreSQL failed; the sink must be opened again (replaying from the last commit) before anything is committed", pipeline: pipeline, plugin: "postgres")
        }
        do { return try body() } catch {
            failed = true
            throw error
        }
    }

    private func beginIfNeeded(_ conn: PQConnection) throws {
        if !inTransaction {
            try run { try conn.exec("BEGIN") }
            inTransaction = true
        }
    }

    /// Forgets the connection (closing it makes the server roll back what it did not commit).
    /// `politely` first ends an open COPY and rolls back; never on a connection that failed, where
    /// each of those could wait out the whole timeout again.
    private func dropConnection(politely: Bool = false) {
        if politely, let connection, connection.isAlive {
            if copyOpen { connection.abortCopy("sluice: closed without commit") }
            if inTransaction { _ = try? connection.exec("ROLLBACK") }
        }
        resetStream()
        second?.reset(politely: politely)
        secondInTransaction = false
        ddlInTransaction = false
        inTransaction = false
        rowsInTransaction = 0
        connection = nil
    }

    private func connect() throws -> PQConnection {
        if let connection, connection.isAlive { return connection }
        if connection != nil && inTransaction {
            // The transaction died with the connection: the engine replays from the committed checkpoint.
            dropConnection()
            throw ConnectorError(.notConnected, "the connection to PostgreSQL was lost in the middle of a transaction", pipeline: pipeline, plugin: "postgres")
        }
        do {
            let c = try PQConnection(conninfo: configuration.url, password: password, connectTimeout: max(1, Int(configuration.connectTimeout.seconds)),
                                     ioTimeout: configuration.timeout.seconds, applicationName: "sluice/\(pipeline)")
            connection = c
            tableSchema = nil
            knownPartitions = []
            return c
        } catch {
            throw ConnectorError(error.loginRefused ? .authentication : .notConnected,
                                 "cannot connect to PostgreSQL: \(error)", pipeline: pipeline, plugin: "postgres", underlying: error)
        }
    }

    /// Runs libpq work, turning a lost connection into `notConnected` (retried with backoff) and
    /// other server errors into a `ConnectorError` carrying SQLSTATE and message.
    @discardableResult
    private func run<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as PQError {
            throw converted(error)
        }
    }

    private func converted(_ error: PQError) -> ConnectorError {
        if error.connectionLost {
            dropConnection()
            return ConnectorError(.notConnected, "lost the connection to PostgreSQL: \(error.message)", pipeline: pipeline, plugin: "postgres", underlying: error)
        }
        if error.timedOut {
            dropConnection()
            return ConnectorError(.notConnected, "PostgreSQL did not answer within statement_timeout: \(error)", pipeline: pipeline, plugin: "postgres", underlying: error)
        }
        return ConnectorError(.other, "PostgreSQL: \(error)", pipeline: pipeline, plugin: "postgres", underlying: error)
    }

    private func writeBatch(_ batch: RecordBatch) throws -> [DeadLetter] {
        let conn = try connect()
        if copyOpen, copySchema != batch.schema {
            // A COPY names its columns once: a batch of another shape starts a new one.
            let refused = try endStream(conn)
            return try refused + writeBatch(batch)
        }
        try ensureTable(batch.schema, conn)
        try beginIfNeeded(conn)
        var refused: [DeadLetter] = []
        var rows = Array(0..<batch.count)
        /// Rows by the partition they go to, when they go straight there.
        var groups: [(table: String, rows: [Int])] = []
        if let plan, let p = configuration.partition, let idx = batch.schema.index(of: p.column) {
            let col = batch.columns[idx]
            if let validity = col.validity {
                rows = rows.filter { r in
                    if !validity[r] {
                        refused.append(deadLetter(batch, r, "partition column '\(p.column)' is null"))
                        return false
                    }
                    return true
                }
            }
            // Each row's day, computed once: the partitions to make, and the rows each receives.
            let byStart = plan.grouped(col, rows)
            let missing = Set(byStart.map(\.start)).filter { !knownPartitions.contains(plan.name(table: configuration.table, start: $0)) }
            if !missing.isEmpty {
                refused += try endStream(conn) // no DDL while a COPY is open
                for start in missing.sorted() { try ensurePartition(start: start, conn) }
            }
            if p.direct && configuration.mode == .append {
                groups = byStart.map { (SQL.qualified(configuration.schema, plan.name(table: configuration.table, start: $0.start)), $0.rows) }
            }
        }
        if groups.isEmpty { groups = [(target, rows)] }
        switch configuration.mode {
        case .upsert:
            rows = lastRowPerKey(batch, rows)
            try load(batch, rows: rows, into: target, conn, refused: &refused)
        case .append:
            if let second = secondStreamForNextBatch() {
                try onSecondStream { () throws(PQError) in try second.send(batch, groups: groups) }
                secondInTransaction = true
                rowsInTransaction += rows.count
                rowsOnSecondStream += rows.count
                return refused
            }
            for group in groups {
                refused += try stream(batch, rows: group.rows, into: group.table, conn)
            }
            // Only a careful COPY counts its rows (a fast one keeps none and ends at the commit).
            if streamRows >= Self.streamSegmentRows { refused += try endStream(conn) }
        }
        return refused
    }

    private func deadLetter(_ batch: RecordBatch, _ row: Int, _ reason: String) -> DeadLetter {
        DeadLetter(origin: batch.origins.origin(row), stage: "postgres", reason: reason, raw: batch.origins.rawBytes(row), rawEncoding: batch.origins.rawEncoding)
    }

    // MARK: Loading

    private func resetStream() {
        stream = []
        streamRows = 0
        copyOpen = false
        copyTarget = ""
        copySchema = nil
        copyUnderSavepoint = false
    }

    /// Sends `rows` into the open COPY into `table`, first ending one into another table and
    /// opening one (inside a savepoint when careful) when needed. Returns the rows a COPY it ended
    /// refused.
    private func stream(_ batch: RecordBatch, rows: [Int], into table: String, _ conn: PQConnection) throws -> [DeadLetter] {
        guard !rows.isEmpty else { return [] }
        var refused: [DeadLetter] = []
        if copyOpen && copyTarget != table { refused = try endStream(conn) }
        if !copyOpen {
            let columns = batch.schema.names.map(SQL.identifier).joined(separator: ", ")
            try run {
                if careful { try conn.exec("SAVEPOINT sluice_batch") }
                try conn.beginCopy("COPY \(table) (\(columns)) FROM STDIN (FORMAT binary)")
                copyOpen = true
                copyTarget = table
                copySchema = batch.schema
                copyUnderSavepoint = careful
                try conn.putCopyData(PostgresBinaryCopy.header)
            }
        }
        encoder.encode(batch, rows: rows.count == batch.count ? nil : rows, framed: false)
        try run { try encoder.withEncodedBytes { (data) throws(PQError) in try conn.putCopyData(data) } }
        if copyUnderSavepoint {
            stream.append((batch, rows))
            streamRows += rows.count
        }
        rowsInTransaction += rows.count
        return refused
    }

    /// Ends the open COPY. When the server refuses it for a per-row reason: careful, rolls back to
    /// the savepoint and loads the kept batches again one by one, bisecting to the refused rows;
    /// fast, rolls the transaction back and asks for a careful replay.
    private func endStream(_ conn: PQConnection) throws -> [DeadLetter] {
        guard copyOpen else { return [] }
        let sent = stream, table = copyTarget, underSavepoint = copyUnderSavepoint
        resetStream()
        do {
            try conn.putCopyData(PostgresBinaryCopy.trailer)
            try conn.endCopy()
            if underSavepoint { try conn.exec("RELEASE SAVEPOINT sluice_batch") }
            return []
        } catch let error where !error.connectionLost && (error.isConstraintViolation || error.isDataException) && !underSavepoint {
            throw try rolledBackToFindRefusal(error)
        } catch let error where !error.connectionLost && (error.isConstraintViolation || error.isDataException) {
            try run { try conn.exec("ROLLBACK TO SAVEPOINT sluice_batch") }
            var refused: [DeadLetter] = []
            for (batch, rows) in sent { try load(batch, rows: rows, into: table, conn, refused: &refused) }
            return refused
        } catch {
            throw converted(error)
        }
    }

    /// Loads `rows` inside a savepoint; when the server refuses them for a per-row reason
    /// (constraint violation, bad value) the rows are split in halves until the bad ones are found.
    private func load(_ batch: RecordBatch, rows: [Int], into table: String, _ conn: PQConnection, refused: inout [DeadLetter]) throws {
        guard !rows.isEmpty else { return }
        do {
            try conn.exec("SAVEPOINT sluice_batch")
            try copy(batch, rows: rows, into: table, conn)
            try conn.exec("RELEASE SAVEPOINT sluice_batch")
        } catch let error where !error.connectionLost && (error.isConstraintViolation || error.isDataException) {
            _ = try run { try conn.exec("ROLLBACK TO SAVEPOINT sluice_batch") }
            if rows.count == 1 {
                refused.append(deadLetter(batch, rows[0], "PostgreSQL refused the row: \(error)"))
                return
            }
            let mid = rows.count / 2
            try load(batch, rows: Array(rows[..<mid]), into: table, conn, refused: &refused)
            try load(batch, rows: Array(rows[mid...]), into: table, conn, refused: &refused)
        } catch {
            throw converted(error)
        }
    }

    private func copy(_ batch: RecordBatch, rows: [Int], into table: String, _ conn: PQConnection) throws(PQError) {
        let columns = batch.schema.names.map(SQL.identifier).joined(separator: ", ")
        encoder.encode(batch, rows: rows.count == batch.count ? nil : rows)
        switch configuration.mode {
        case .append:
            try encoder.withEncodedBytes { (data) throws(PQError) in try conn.copyIn("COPY \(table) (\(columns)) FROM STDIN (FORMAT binary)", data: data) }
        case .upsert:
            let stage = SQL.identifier("sluice_stage_" + configuration.table)
            try conn.exec("CREATE TEMP TABLE IF NOT EXISTS \(stage) (LIKE \(target) INCLUDING DEFAULTS)")
            try conn.exec("TRUNCATE \(stage)")
            try encoder.withEncodedBytes { (data) throws(PQError) in try conn.copyIn("COPY \(stage) (\(columns)) FROM STDIN (FORMAT binary)", data: data) }
            let keys = configuration.key.map(SQL.identifier).joined(separator: ", ")
            let updates = batch.schema.names.filter { !configuration.key.contains($0) }
                .map { "\(SQL.identifier($0)) = EXCLUDED.\(SQL.identifier($0))" }.joined(separator: ", ")
            let action = updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET \(updates)"
            try conn.exec("INSERT INTO \(target) (\(columns)) SELECT \(columns) FROM \(stage) ON CONFLICT (\(keys)) \(action)")
        }
    }

    /// Within one batch only the last row of each key counts (ON CONFLICT cannot touch a row twice).
    private func lastRowPerKey(_ batch: RecordBatch, _ rows: [Int]) -> [Int] {
        let keyColumns = configuration.key.compactMap { batch.schema.index(of: $0) }
        var last: [[Value]: Int] = [:]
        for r in rows { last[keyColumns.map { batch.value(row: r, column: $0) }] = r }
        return rows.filter { r in last[keyColumns.map { batch.value(row: r, column: $0) }] == r }
    }

    // MARK: The second COPY stream (`streams = 2`)

    /// For tests: `commit` stops at `point` as if the process died there (nothing after it runs;
    /// `close` then only drops the connections).
    func crash(at point: CommitCrashPoint?) { crashPoint = point }

    /// The checkpoint's `sinkState` entry naming the prepared transaction committed with it.
    static let preparedKey = "postgres.prepared"

    private var prepared: PostgresPreparedTransactions { PostgresPreparedTransactions(pipeline: pipeline) }

    /// Commits the prepared transaction the committed checkpoint names (a crash came between
    /// the checkpoint's commit and its own) and rolls back the others (a crash came before the
    /// checkpoint's commit).
    private func resolvePrepared(_ conn: PQConnection) throws {
        let done = try run {
            try prepared.settle(conn) { () throws(PQError) -> String? in
                let rows = try conn.exec("SELECT checkpoint->'sinkState'->>$2 FROM public.\(SQL.identifier(Self.checkpointTable)) WHERE pipeline = $1",
                                         [pipeline, Self.preparedKey])
                return rows.first?.first ?? nil
            }
        }
        for gid in done.committed { logger.notice("committed the second stream's rows of the last commit, prepared before a crash", metadata: ["prepared": "\(gid)"]) }
        for gid in done.rolledBack { logger.notice("rolled back the second stream's rows of a commit that did not happen", metadata: ["prepared": "\(gid)"]) }
    }

    private func startSecondStream(_ conn: PQConnection) throws {
        let allowed = try run { try conn.exec("SELECT current_setting('max_prepared_transactions')::int") }.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
        guard allowed > 0 else {
            throw ConnectorError(.configuration, "streams = 2 commits the second stream as a prepared transaction, and this server allows none "
                                 + "(max_prepared_transactions = 0): set it to at least the number of pipelines with streams = 2 and restart "
                                 + "PostgreSQL, or set streams = 1", pipeline: pipeline, plugin: "postgres")
        }
        if second == nil {
            second = PostgresSecondStream(.init(conninfo: configuration.url, password: password, connectTimeout: max(1, Int(configuration.connectTimeout.seconds)),
                                                ioTimeout: configuration.timeout.seconds, applicationName: "sluice/\(pipeline)/2"))
        }
    }

    /// The second stream when the next batch is its turn: every other batch of an append, while
    /// the sink is not careful (savepoints live on one connection), and until DDL in the open
    /// transaction (the second connection cannot see what that made).
    private func secondStreamForNextBatch() -> PostgresSecondStream? {
        guard let second, !careful, oneStreamRowsLeft <= 0, !ddlInTransaction else { return nil }
        secondsTurn.toggle()
        return secondsTurn ? second : nil
    }

    /// Ends the second stream's COPY: the server's verdict on its rows.
    private func endSecondStream() throws {
        guard secondInTransaction, let second else { return }
        try onSecondStream { () throws(PQError) in try second.endCopy() }
    }

    /// Runs work of the second stream. A refused row voids both transactions, as in the fast
    /// stream; a lost connection ends both.
    private func onSecondStream(_ body: () throws(PQError) -> Void) throws {
        do { try body() } catch where !error.connectionLost && (error.isConstraintViolation || error.isDataException) {
            throw try rolledBackToFindRefusal(error)
        } catch {
            throw converted(error)
        }
    }

    /// The checkpoint is about to name `gid`: it must still be prepared (an open of another run
    /// may have rolled it back), or this commit would cover rows that are gone.
    private func checkStillPrepared(_ gid: String, _ conn: PQConnection) throws {
        guard try run({ try prepared.stillPrepared(gid, conn) }) else {
            throw ConnectorError(.fenced, "the second stream's prepared rows (\(gid)) were rolled back by another run of pipeline \(pipeline) "
                                 + "(two daemons loading it at once?); this transaction is rolled back and the run starts again from the last checkpoint",
                                 pipeline: pipeline, plugin: "postgres")
        }
    }

    /// Rolls back both streams' transactions; returns how many rows they held.
    private func rollBackBothStreams() throws -> Int {
        let lost = rowsInTransaction
        if let connection, copyOpen { connection.abortCopy("sluice: rolled back to replay") }
        resetStream()
        if inTransaction, let connection { try run { try connection.exec("ROLLBACK") } }
        second?.reset(politely: true)
        secondInTransaction = false
        ddlInTransaction = false
        inTransaction = false
        rowsInTransaction = 0
        return lost
    }

    /// A fast COPY (either stream) was refused: roll back, turn careful, ask for a replay.
    private func rolledBackToFindRefusal(_ error: PQError) throws -> ConnectorError {
        let lost = try rollBackBothStreams()
        careful = true
        carefulRowsLeft = max(carefulRowsLeft, lost)
        return ConnectorError(.replay, "PostgreSQL refused a row (SQLSTATE \(error.sqlState)) among the \(lost) sent since the last commit; "
                              + "they are rolled back and loaded again under savepoints to find it", pipeline: pipeline, plugin: "postgres", underlying: error)
    }

    /// A table or partition must be made while the second stream's transaction holds locks the
    /// DDL would wait for (and the second stream waits for this commit): roll back, ask for a
    /// replay on one stream, which makes it in the loading transaction as usual.
    private func rolledBackForDDL() throws -> ConnectorError {
        let lost = try rollBackBothStreams()
        oneStreamRowsLeft = max(oneStreamRowsLeft, lost)
        return ConnectorError(.replay, "a partition must be made, and the second COPY stream holds locks on the table: the \(lost) rows sent "
                              + "since the last commit are rolled back and loaded again on one stream", pipeline: pipeline, plugin: "postgres")
    }

    // MARK: Table and partitions

    private func ensureTable(_ schema: Schema, _ conn: PQConnection) throws {
        if tableSchema == schema { return }
        let existing = try run {
            try conn.exec("""
                SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
                """, [configuration.schema, configuration.table])
        }
        if existing.isEmpty {
            guard configuration.createTable else {
                throw ConnectorError(.configuration, "table \(configuration.schema).\(configuration.table) does not exist (create_table = false)", pipeline: pipeline, plugin: "postgres")
            }
            try createTable(schema, conn)
        } else {
            try check(schema, against: existing)
        }
        tableSchema = schema
        if let plan, let p = configuration.partition {
            let parts = try run {
                try conn.exec("""
                    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace
                    WHERE n.nspname = $1 AND p.relname = $2
                    """, [configuration.schema, configuration.table])
            }
            knownPartitions = Set(parts.compactMap { $0.first ?? nil })
            for start in plan.startsAhead(today: Int(Date().timeIntervalSince1970 / 86400), premake: p.premake) {
                try ensurePartition(start: start, conn)
            }
        }
    }

    private func createTable(_ schema: Schema, _ conn: PQConnection) throws {
        var defs = schema.fields.map { f in "\(SQL.identifier(f.name)) \(PostgresBinaryCopy.sqlType(f.type))\(f.nullable ? "" : " NOT NULL")" }
        if configuration.mode == .upsert {
            defs.append("PRIMARY KEY (\(configuration.key.map(SQL.identifier).joined(separator: ", ")))")
        }
        var sql = "CREATE TABLE IF NOT EXISTS \(target) (\n    \(defs.joined(separator: ",\n    "))\n)"
        if let p = configuration.partition {
            guard let f = schema.fields.first(where: { $0.name == p.column }), f.type == .date || f.type == .timestamp else {
                throw ConnectorError(.configuration, "partition column '\(p.column)' must be a date or timestamp column of the pipeline's schema", pipeline: pipeline, plugin: "postgres")
            }
            sql += " PARTITION BY RANGE (\(SQL.identifier(p.column)))"
        }
        if configuration.schema != "public" { try createAllowingRace("CREATE SCHEMA IF NOT EXISTS \(SQL.identifier(configuration.schema))", conn) }
        try createAllowingRace(sql, conn)
        logger.info("created table", metadata: ["table": "\(configuration.schema).\(configuration.table)"])
    }

    private func check(_ schema: Schema, against existing: [[String?]]) throws {
        let columns = Dictionary(existing.compactMap { r in r[0].map { ($0, (r[1] ?? "", r[2] == "t")) } }, uniquingKeysWith: { a, _ in a })
        var problems: [String] = []
        for f in schema.fields {
            guard let (type, _) = columns[f.name] else {
                problems.append("column '\(f.name)' is missing from the table")
                continue
            }
            let want = PostgresBinaryCopy.sqlType(f.type)
            if type != want { problems.append("column '\(f.name)' is \(type) in the table, the pipeline declares \(f.type) (\(want))") }
        }
        if !problems.isEmpty {
            throw ConnectorError(.configuration, "table \(configuration.schema).\(configuration.table) does not match the pipeline: " + problems.joined(separator: "; "), pipeline: pipeline, plugin: "postgres")
        }
    }

    /// `CREATE … IF NOT EXISTS` that another session (a pipeline of another host loading the same
    /// table) may run at the same moment: PostgreSQL then reports 42P07 or a unique violation on
    /// its catalog (23505) although the object now exists. Inside the data's transaction the
    /// statement runs under a savepoint, so that error does not abort the rows already sent.
    private func createAllowingRace(_ sql: String, _ conn: PQConnection) throws {
        if secondInTransaction { throw try rolledBackForDDL() }
        if inTransaction { ddlInTransaction = true }
        let savepoint = inTransaction
        if savepoint { try run { try conn.exec("SAVEPOINT sluice_ddl") } }
        let outcome = Result { () throws(PQError) in try conn.exec(sql) }
        var raced = false
        if case let .failure(error) = outcome {
            let state = error.sqlState
            guard SQL.concurrentCreationStates.contains(state) else { throw converted(error) }
            raced = true
        }
        if raced {
            logger.debug("created by another session at the same moment", metadata: ["sql": "\(sql.prefix(120))"])
            if savepoint { try run { try conn.exec("ROLLBACK TO SAVEPOINT sluice_ddl") } }
        } else if savepoint {
            try run { try conn.exec("RELEASE SAVEPOINT sluice_ddl") }
        }
    }

    private func ensurePartition(start: Int, _ conn: PQConnection) throws {
        guard let plan else { return }
        let name = plan.name(table: configuration.table, start: start)
        if knownPartitions.contains(name) { return }
        let isTimestamp = tableSchema?.fields.first { $0.name == configuration.partition?.column }?.type == .timestamp
        try createAllowingRace(plan.createStatement(schema: configuration.schema, table: configuration.table, start: start, timestampColumn: isTimestamp), conn)
        knownPartitions.insert(name)
        logger.debug("partition ready", metadata: ["partition": "\(name)"])
    }
}

/// The two windows of a `streams = 2` commit where a crash leaves a prepared transaction behind.
enum CommitCrashPoint: Sendable {
    /// The second stream's transaction is prepared; the checkpoint is not committed.
    case afterPrepare
    /// The checkpoint (naming the prepared transaction) is committed; the prepared one is not.
    case afterCheckpointCommit

    struct Crash: Error, CustomStringConvertible {
        var description: String { "simulated crash in the middle of a commit" }
    }
}
