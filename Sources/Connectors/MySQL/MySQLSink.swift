import ConnectorKit
import Foundation
import Logging

/// `type = "mysql"`: appends or upserts into an InnoDB table with multi-row INSERTs, and keeps the
/// pipeline's checkpoint in `sluice_checkpoints` in the same transaction (custody `.sink`).
///
/// A statement the server refuses because of some of its rows (a foreign key, a duplicate key in
/// append mode, a value out of range) is undone by InnoDB alone, the transaction goes on, and the
/// rows are bisected: the refused ones go to the dead-letter output with the server's reason.
/// libmariadb blocks, so the actor runs on a thread of its own, ended by `close`.
public actor MySQLSink: Sink {
    private let executor = ThreadExecutor(name: "sluice-mysql", idleTimeout: nil)
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let configuration: MySQLConfiguration
    let password: String?
    let logger: Logger
    private var connection: MySQLConnection?
    private var failed = false
    private var pipeline = ""
    /// The schema the table was checked (or created) for in this session.
    private var tableSchema: Schema?
    static let checkpointTable = "sluice_checkpoints"
    static let maxStatementBytes = 4 << 20
    /// LOAD DATA sends once this much is buffered (and at every flush). One LOAD per batch: a
    /// 16 MiB buffer was measured (bench mysql, 2M rows) no faster, the server being the bound,
    /// and 80 MiB heavier.
    static let loadBufferBytes = 0

    /// Rows written but not yet sent by LOAD DATA: their text, and the batches for the fallback.
    struct PendingLoad {
        var bytes: [UInt8] = []
        var batches: [(batch: RecordBatch, rows: [Int])] = []
        var rows = 0
    }
    private var pendingLoad = PendingLoad()
    /// Rows that went through LOAD DATA (not the INSERT fallback), for tests.
    private(set) var rowsByLoadData = 0

    public init(configuration: MySQLConfiguration, password: String?, logger: Logger) {
        self.configuration = configuration
        self.password = password
        self.logger = logger
    }

    public nonisolated var checkpointCustody: CheckpointCustody { .sink }

    public func open(context: SinkContext) async throws -> Checkpoint {
        connection = nil
        failed = false
        tableSchema = nil
        pendingLoad = PendingLoad()
        pipeline = context.pipeline
        return try step {
            guard let e = configuration.endpoint else { throw ConnectorError(.configuration, "mysql: bad url", pipeline: pipeline, plugin: "mysql") }
            let c = try MySQLConnection(host: e.host, port: e.port, user: e.user, password: password, database: e.database,
                                        timeout: Int(max(configuration.connectTimeout.seconds, configuration.timeout.seconds).rounded(.up)))
            connection = c
            // Strict: a value that does not fit is an error (a dead letter), never silently cut.
            try c.query("SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'")
            try c.query("CREATE TABLE IF NOT EXISTS \(MySQLSQL.identifier(Self.checkpointTable)) (pipeline VARCHAR(255) NOT NULL PRIMARY KEY, "
                        + "checkpoint LONGTEXT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
            try c.setAutocommit(false)
            let rows = try c.query("SELECT checkpoint FROM \(MySQLSQL.identifier(Self.checkpointTable)) WHERE pipeline = \(literal(c, pipeline))")
            // Reading took a snapshot: end it, so the first write starts a fresh transaction.
            try c.commit()
            guard let text = rows.first?.first ?? nil else { return Checkpoint() }
            do { return try JSONDecoder().decode(Checkpoint.self, from: Data(text.utf8)) } catch {
                throw ConnectorError(.checkpoint, "mysql: the checkpoint of pipeline \(pipeline) in \(Self.checkpointTable) is unreadable: \(error)", pipeline: pipeline, plugin: "mysql")
            }
        }
    }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
        let c = try usable()
        return try step {
            try ensureTable(batch.schema, c)
            var letters: [DeadLetter] = []
            var rows: [Int] = []
            rows.reserveCapacity(batch.count)
            for r in 0..<batch.count {
                if let reason = Self.unstorable(batch, row: r) {
                    letters.append(Self.letter(batch, row: r, reason: reason))
                } else {
                    rows.append(r)
                }
            }
            if configuration.load == .loadData {
                if !rows.isEmpty {
                    Self.appendTabSeparated(batch, rows: rows, to: &pendingLoad.bytes)
                    pendingLoad.batches.append((batch, rows))
                    pendingLoad.rows += rows.count
                }
                if pendingLoad.bytes.count >= Self.loadBufferBytes { letters += try sendPendingLoad(c) }
                return letters
            }
            try insertAll(batch, rows: rows, c, refused: &letters)
            return letters
        }
    }

    public func flush() async throws -> [DeadLetter] {
        guard configuration.load == .loadData, pendingLoad.rows > 0 else { return [] }
        let c = try usable()
        return try step { try sendPendingLoad(c) }
    }

    /// Rows in multi-row INSERTs of at most `rows_per_statement` rows and 4 MiB.
    private func insertAll(_ batch: RecordBatch, rows: [Int], _ c: MySQLConnection, refused letters: inout [DeadLetter]) throws {
        var start = 0
        while start < rows.count {
            var end = start
            var bytes = 0
            while end < rows.count && end - start < configuration.rowsPerStatement && bytes < Self.maxStatementBytes {
                bytes += Self.estimatedBytes(batch, row: rows[end])
                end += 1
            }
            try insert(batch, rows: rows[start..<end], c, refused: &letters)
            start = end
        }
    }

    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint {
        let c = try usable()
        return try step {
            // The engine flushes first; a caller that did not still gets its rows committed, or
            // an error if some were refused (commit has no way to hand dead letters back).
            if try !sendPendingLoad(c).isEmpty {
                throw ConnectorError(.other, "mysql: rows were refused at a commit without flush; call flush before commit", pipeline: pipeline, plugin: "mysql")
            }
            let text = String(decoding: try JSONEncoder().encode(checkpoint), as: UTF8.self)
            let table = MySQLSQL.identifier(Self.checkpointTable)
            // Fencing, as in PostgreSQL: the row moves only from the sequence this run opened at
            // (the row is locked until the commit), so two daemons loading the pipeline at once
            // cannot both commit.
            let current = try c.query("SELECT checkpoint FROM \(table) WHERE pipeline = \(literal(c, pipeline)) FOR UPDATE")
            let committed: Int64? = try (current.first?.first ?? nil).map { try JSONDecoder().decode(Checkpoint.self, from: Data($0.utf8)).sequence }
            let fenced = ConnectorError(.fenced, "mysql: the checkpoint of pipeline \(pipeline) was committed by another writer since this run started "
                                        + "(two daemons loading it at once?); this transaction is rolled back", pipeline: pipeline, plugin: "mysql")
            if (committed ?? 0) != checkpoint.sequence - 1 { throw fenced }
            if committed == nil {
                do { try c.query("INSERT INTO \(table) (pipeline, checkpoint) VALUES (\(literal(c, pipeline)), \(literal(c, text)))") } catch {
                    if (error as? MySQLError)?.code == 1062 { throw fenced } // another writer's first commit came first
                    throw error
                }
            } else {
                try c.query("UPDATE \(table) SET checkpoint = \(literal(c, text)) WHERE pipeline = \(literal(c, pipeline))")
            }
            try c.commit()
            return checkpoint
        }
    }

    public func close() async throws {
        pendingLoad = PendingLoad()
        if let c = connection { try? c.rollback() }
        connection = nil
        executor.shutdown()
    }

    // MARK: Rows

    /// The buffered rows through LOAD DATA LOCAL, under a savepoint. LOCAL turns refusals into
    /// warnings (a duplicate skipped, a value cut), so any warning, or a count that does not
    /// match, undoes the load, and the INSERT path (which names each refused row) takes the rows.
    private func sendPendingLoad(_ c: MySQLConnection) throws -> [DeadLetter] {
        guard pendingLoad.rows > 0 else { return [] }
        let pending = pendingLoad
        pendingLoad = PendingLoad()
        let fields = pending.batches[0].batch.schema.fields
        let statement = "LOAD DATA LOCAL INFILE 'sluice-batch' INTO TABLE \(MySQLSQL.identifier(configuration.table)) CHARACTER SET utf8mb4 "
            + "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (\(fields.map { MySQLSQL.identifier($0.name) }.joined(separator: ", ")))"
        try c.query("SAVEPOINT sluice_load")
        let outcome = Result { () throws(MySQLError) in try c.loadData(statement, bytes: pending.bytes) }
        switch outcome {
        case let .success((affected, warnings)) where warnings == 0 && affected == UInt64(pending.rows):
            try c.query("RELEASE SAVEPOINT sluice_load")
            rowsByLoadData += pending.rows
            return []
        case .success:
            try c.query("ROLLBACK TO SAVEPOINT sluice_load")
        case let .failure(error):
            guard error.refusesRows else { throw error }
            try c.query("ROLLBACK TO SAVEPOINT sluice_load")
        }
        var letters: [DeadLetter] = []
        for (batch, rows) in pending.batches { try insertAll(batch, rows: rows, c, refused: &letters) }
        return letters
    }

    /// Rows as LOAD DATA reads them: tab-separated, `\N` for NULL, backslash escapes.
    static func appendTabSeparated(_ batch: RecordBatch, rows: [Int], to out: inout [UInt8]) {
        out.reserveCapacity(out.count + rows.count * batch.columns.count * 12)
        let scales = batch.schema.fields.map { if case let .decimal(_, s) = $0.type { s } else { 0 } }
        for r in rows {
            for (i, column) in batch.columns.enumerated() {
                if i > 0 { out.append(9) }
                if column.isNull(r) { out.append(contentsOf: [92, 78]); continue } // \N
                switch column.values {
                case let .bool(a): out.append(a[r] ? 49 : 48)
                case let .int32(a): JSONWriter.appendInt(Int64(a[r]), to: &out)
                case let .int64(a): JSONWriter.appendInt(a[r], to: &out)
                case let .float64(a): JSONWriter.appendDouble(a[r], to: &out)
                case let .decimal(a): out.append(contentsOf: Array(DecimalText.format(a[r], scale: scales[i]).utf8))
                case let .string(s):
                    s.withBytes(r) { bytes in
                        for b in bytes {
                            switch b {
                            case 92: out.append(contentsOf: [92, 92])
                            case 9: out.append(contentsOf: [92, 116])
                            case 10: out.append(contentsOf: [92, 110])
                            case 13: out.append(contentsOf: [92, 114])
                            case 0: out.append(contentsOf: [92, 48])
                            default: out.append(b)
                            }
                        }
                    }
                case let .date(a): CivilDate.appendDate(days: a[r], to: &out)
                case let .timestamp(a): appendDatetime(a[r], to: &out)
                }
            }
            out.append(10)
        }
    }

    /// One multi-row INSERT; when the server refuses rows, halves until each refused row stands alone.
    private func insert(_ batch: RecordBatch, rows: ArraySlice<Int>, _ c: MySQLConnection, refused: inout [DeadLetter]) throws {
        guard !rows.isEmpty else { return }
        // (Result rather than `catch where`: the compiler crashes on the latter with typed throws.)
        let outcome = Result { () throws(MySQLError) in try c.execute(statement(batch, rows: rows, c)) }
        if case let .failure(error) = outcome {
            guard error.refusesRows else { throw error }
            if rows.count == 1 {
                refused.append(Self.letter(batch, row: rows.first!, reason: error.description))
                return
            }
            let middle = rows.startIndex + rows.count / 2
            try insert(batch, rows: rows[..<middle], c, refused: &refused)
            try insert(batch, rows: rows[middle...], c, refused: &refused)
        }
    }

    private func statement(_ batch: RecordBatch, rows: ArraySlice<Int>, _ c: MySQLConnection) -> [UInt8] {
        let fields = batch.schema.fields
        var sql = Array("INSERT INTO \(MySQLSQL.identifier(configuration.table)) (\(fields.map { MySQLSQL.identifier($0.name) }.joined(separator: ", "))) VALUES ".utf8)
        let scales = fields.map { if case let .decimal(_, s) = $0.type { s } else { 0 } }
        for (n, r) in rows.enumerated() {
            sql.append(contentsOf: n == 0 ? [UInt8(ascii: "(")] : Array(",(".utf8))
            for (i, column) in batch.columns.enumerated() {
                if i > 0 { sql.append(UInt8(ascii: ",")) }
                if column.isNull(r) { sql.append(contentsOf: Array("NULL".utf8)); continue }
                switch column.values {
                case let .bool(a): sql.append(contentsOf: Array((a[r] ? "TRUE" : "FALSE").utf8))
                case let .int32(a): JSONWriter.appendInt(Int64(a[r]), to: &sql)
                case let .int64(a): JSONWriter.appendInt(a[r], to: &sql)
                case let .float64(a): JSONWriter.appendDouble(a[r], to: &sql)
                case let .decimal(a): sql.append(contentsOf: Array(DecimalText.format(a[r], scale: scales[i]).utf8))
                case let .string(s): s.withBytes(r) { c.appendLiteral(UnsafeRawBufferPointer($0), to: &sql) }
                case let .date(a):
                    sql.append(UInt8(ascii: "'"))
                    CivilDate.appendDate(days: a[r], to: &sql)
                    sql.append(UInt8(ascii: "'"))
                case let .timestamp(a):
                    sql.append(UInt8(ascii: "'"))
                    Self.appendDatetime(a[r], to: &sql)
                    sql.append(UInt8(ascii: "'"))
                }
            }
            sql.append(UInt8(ascii: ")"))
        }
        if configuration.mode == .upsert {
            let others = fields.map(\.name).filter { !configuration.key.contains($0) }
            let updates = others.isEmpty ? configuration.key.prefix(1).map { "\(MySQLSQL.identifier($0)) = \(MySQLSQL.identifier($0))" }
                                         : others.map { "\(MySQLSQL.identifier($0)) = VALUES(\(MySQLSQL.identifier($0)))" }
            sql.append(contentsOf: Array(" ON DUPLICATE KEY UPDATE \(updates.joined(separator: ", "))".utf8))
        }
        return sql
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff`, UTC, for DATETIME(6): ISO 8601's `T` and `Z` changed in place.
    static func appendDatetime(_ micros: Int64, to out: inout [UInt8]) {
        let start = out.count
        CivilDate.appendTimestamp(micros: micros, to: &out)
        if out.last == UInt8(ascii: "Z") { out.removeLast() }
        if let t = out[start...].firstIndex(of: UInt8(ascii: "T")) { out[t] = UInt8(ascii: " ") }
    }

    /// Values no MySQL column can hold, refused before sending.
    static func unstorable(_ batch: RecordBatch, row: Int) -> String? {
        for (i, column) in batch.columns.enumerated() where !column.isNull(row) {
            if case let .float64(a) = column.values, !a[row].isFinite {
                return "column '\(batch.schema.fields[i].name)': \(a[row]) cannot be stored in a DOUBLE"
            }
        }
        return nil
    }

    static func estimatedBytes(_ batch: RecordBatch, row: Int) -> Int {
        batch.columns.reduce(4) { sum, column in
            if case let .string(s) = column.values { return sum + 2 * s.withBytes(row) { $0.count } + 4 }
            return sum + 28
        }
    }

    static func letter(_ batch: RecordBatch, row: Int, reason: String) -> DeadLetter {
        DeadLetter(origin: batch.origins.origin(row), stage: "mysql", reason: reason, raw: batch.origins.rawBytes(row), rawEncoding: batch.origins.rawEncoding)
    }

    // MARK: The table

    private func ensureTable(_ schema: Schema, _ c: MySQLConnection) throws {
        if tableSchema == schema { return }
        if tableSchema != nil {
            throw ConnectorError(.configuration, "mysql: the records' columns changed during a run; MySQL cannot alter a table inside a transaction",
                                 pipeline: pipeline, plugin: "mysql")
        }
        let table = configuration.table
        let existing = try c.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = \(literal(c, table)) ORDER BY ordinal_position")
        if existing.isEmpty {
            guard configuration.createTable else {
                throw ConnectorError(.configuration, "mysql: table \(table) does not exist (create_table = false)", pipeline: pipeline, plugin: "mysql")
            }
            for k in configuration.key where schema.index(of: k) == nil {
                throw ConnectorError(.configuration, "mysql: key column '\(k)' is not among the records' columns", pipeline: pipeline, plugin: "mysql")
            }
            // DDL commits implicitly in MySQL: this runs before anything is written in the session.
            let columns = schema.fields.map { f in
                "\(MySQLSQL.identifier(f.name)) \(Self.sqlType(f.type, key: configuration.key.contains(f.name)))\(f.nullable && !configuration.key.contains(f.name) ? "" : " NOT NULL")"
            }
            let primary = configuration.key.isEmpty ? "" : ", PRIMARY KEY (\(configuration.key.map(MySQLSQL.identifier).joined(separator: ", ")))"
            try c.query("CREATE TABLE IF NOT EXISTS \(MySQLSQL.identifier(table)) (\(columns.joined(separator: ", "))\(primary)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
            logger.info("created table", metadata: ["table": "\(table)"])
        } else {
            let names = Set(existing.compactMap { $0.first ?? nil }.map { $0.lowercased() })
            let missing = schema.fields.map(\.name).filter { !names.contains($0.lowercased()) }
            if !missing.isEmpty {
                throw ConnectorError(.configuration, "mysql: table \(table) has no column \(missing.map { "'\($0)'" }.joined(separator: ", "))",
                                     pipeline: pipeline, plugin: "mysql")
            }
        }
        tableSchema = schema
    }

    static func sqlType(_ type: DataType, key: Bool) -> String {
        switch type {
        case .bool: "BOOLEAN"
        case .int32: "INT"
        case .int64: "BIGINT"
        case .float64: "DOUBLE"
        case let .decimal(p, s): "DECIMAL(\(p),\(s))"
        // A key must be indexable; other text may be long.
        case .string: key ? "VARCHAR(255)" : "MEDIUMTEXT"
        case .date: "DATE"
        case .timestamp: "DATETIME(6)"
        }
    }

    // MARK: Failure handling

    private func literal(_ c: MySQLConnection, _ text: String) -> String {
        var out: [UInt8] = []
        var t = text
        t.withUTF8 { c.appendLiteral(UnsafeRawBufferPointer($0), to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    private func usable() throws -> MySQLConnection {
        guard let c = connection, !failed else {
            throw ConnectorError(.sinkFailed, "mysql: an earlier step of this attempt failed; the sink must be opened again", pipeline: pipeline, plugin: "mysql")
        }
        return c
    }

    /// Runs a step; a failure leaves the sink failed (its transaction is gone) until `open`.
    private func step<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            failed = true
            connection = nil // closing the connection rolls back what the server still holds
            guard let e = error as? MySQLError else { throw error }
            let code: ConnectorError.Code = e.connectionLost || e.transactionRolledBack ? .notConnected : e.loginRefused ? .authentication : .other
            let where_ = configuration.endpoint.map { "\($0.host):\($0.port)/\($0.database)" } ?? configuration.url
            throw ConnectorError(code, "mysql \(where_): \(e)", pipeline: pipeline, plugin: "mysql", underlying: e)
        }
    }
}
