import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
@testable import PostgresConnector
import Foundation
import Logging
import Testing
import TestSupport

/// The throwaway server of `scripts/pg-start.sh`. Locally the suite is skipped (with this reason)
/// when no server answers; under CI (`CI=true`) it always runs, so a missing server fails it.
enum TestPostgres {
    static let url = ProcessInfo.processInfo.environment["SLUICE_TEST_PG"] ?? "postgresql://postgres@127.0.0.1:55432/postgres"
    static let password = ProcessInfo.processInfo.environment["SLUICE_TEST_PG"] == nil ? "testpw" : nil
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static let available: Bool = (try? PQConnection(conninfo: url, password: password, connectTimeout: 3)) != nil
    static let enabled = available || required

    static func connection() throws -> PQConnection { try PQConnection(conninfo: url, password: password, connectTimeout: 5) }

    /// A fresh schema per test, so tests never see each other's tables.
    static func freshSchema() throws -> String {
        let name = "t_" + UUID().uuidString.prefix(8).lowercased()
        try connection().exec("CREATE SCHEMA \(name)")
        return name
    }

    static func sink(_ configure: (inout PostgresConfiguration) -> Void) -> PostgresSink {
        var c = PostgresConfiguration(url: url, table: "t")
        configure(&c)
        return PostgresSink(configuration: c, password: password, logger: Logger(label: "test"))
    }

    static func query(_ sql: String) throws -> [[String?]] { try connection().exec(sql) }

    static func dropSchema(_ schema: String) { _ = try? connection().exec("DROP SCHEMA \(schema) CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline LIKE '%\(schema)%'") }

    /// The server's port, from the URL.
    static var port: Int {
        URLComponents(string: url)?.port ?? 55432
    }

    /// The same server through another port (a fault proxy's).
    static func url(port: Int) -> String {
        var c = URLComponents(string: url)!
        c.port = port
        return c.string!
    }
}

@Suite(.blockingWork, .serialized, .enabled(if: TestPostgres.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct PostgresSinkTests {
    let context = SinkContext(pipeline: "pg-test-\(UUID().uuidString.prefix(6))")

    func batch(_ fields: [Field], _ columns: [Column]) -> RecordBatch {
        let n = columns.first?.count ?? 0
        return RecordBatch(schema: Schema(fields), columns: columns,
                           origins: RecordOrigins(file: "f.csv", lines: (0..<n).map { Int64($0 + 2) }, byteOffsets: (0..<n).map { Int64($0 * 10) },
                                                  raw: RawRecords(StringColumn((0..<n).map { "raw \($0)" }))))
    }

    /// Writes `batches` and flushes, replaying as the engine does: a refusal in the fast stream
    /// (no savepoint) rolls the transaction back and asks for a replay, so the sink is opened
    /// again (it reports the last commit) and the batches are written again, now under savepoints.
    func writeReplaying(_ sink: PostgresSink, _ batches: [RecordBatch]) async throws -> (refused: [DeadLetter], replays: Int, checkpoint: Checkpoint) {
        var replays = 0
        while true {
            let checkpoint = try await sink.open(context: context)
            do {
                var refused: [DeadLetter] = []
                for b in batches { refused += try await sink.write(b) }
                refused += try await sink.flush()
                return (refused, replays, checkpoint)
            } catch let error as ConnectorError where error.code == .replay && replays == 0 {
                replays += 1
            }
        }
    }

    @Test func everyTypeRoundTripsWithNullsTimeZonesAndDecimalPrecision() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = "types" }
        var cp = try await sink.open(context: context)
        let b = batch(
            [Field("b", .bool), Field("i", .int32), Field("l", .int64), Field("f", .float64), Field("d", .decimal(precision: 38, scale: 6)),
             Field("s", .string), Field("day", .date), Field("ts", .timestamp), Field("z", .decimal(precision: 5, scale: 0))],
            [Column(.bool([true, false, false]), validity: [true, true, false]),
             Column(.int32([Int32.min, 0, Int32.max])),
             Column(.int64([Int64.min, -1, Int64.max])),
             Column(.float64([-1.5e-300, 0.1, 3.141592653589793])),
             Column(.decimal([-123_456_789_012_345_678_901_234_567_890_123_456, 1, 0])),
             Column(.string(StringColumn(["José ção €", "", "x\"y'z\\\t\n"])), validity: [true, true, true]),
             Column(.date([-1, 0, 20089])),
             Column(.timestamp([-1, 1_735_700_400_123_456, 946_684_800_000_000])),
             Column(.decimal([99999, -10000, 0]), validity: [true, true, false])])
        let refused = try await sink.write(b)
        #expect(refused.isEmpty)
        cp.files["f.csv"] = FileCursor()
        #expect(try await sink.flush().isEmpty)
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        let rows = try TestPostgres.query("SET TIME ZONE 'UTC'; SELECT b::text, i::text, l::text, f::text, d::text, s, day::text, ts::text, z::text FROM \(schema).types ORDER BY i")
        #expect(rows.count == 3)
        #expect(rows[0] == ["true", "-2147483648", "-9223372036854775808", "-1.5e-300", "-123456789012345678901234567890.123456", "José ção €", "1969-12-31", "1969-12-31 23:59:59.999999+00", "99999"])
        #expect(rows[1] == ["false", "0", "-1", "0.1", "0.000001", "", "1970-01-01", "2025-01-01 03:00:00.123456+00", "-10000"])
        #expect(rows[2] == [nil, "2147483647", "9223372036854775807", "3.141592653589793", "0.000000", "x\"y'z\\\t\n", "2025-01-01", "2000-01-01 00:00:00+00", nil])
        let types = try TestPostgres.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\(schema).types'::regclass AND attnum > 0 ORDER BY attnum")
        #expect(types.map { $0[0] } == ["boolean", "integer", "bigint", "double precision", "numeric(38,6)", "text", "date", "timestamp with time zone", "numeric(5,0)"])
    }

    @Test func partitionedLoadOverFortyDaysCreatesExactlyThePartitionsNeeded() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = "readings"; $0.partition = .init(column: "ts") }
        var cp = try await sink.open(context: context)
        // Backlog from 2024: 40 days, 24 rows a day, out of order.
        let start: Int64 = 1_704_067_200_000_000 // 2024-01-01T00:00:00Z
        var ts: [Int64] = []
        for h in (0..<(40 * 24)).reversed() { ts.append(start + Int64(h) * 3_600_000_000) }
        _ = try await sink.write(batch([Field("ts", .timestamp, nullable: false), Field("v", .int64)], [Column(.timestamp(ts)), Column(.int64(ts.map { $0 / 1000 }))]))
        #expect(try await sink.flush().isEmpty)
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        cp.outputs["x"] = 1
        let parts = try TestPostgres.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '\(schema).readings'::regclass ORDER BY 1
            """).map { $0[0]! }
        let premade = 5 // today and the 4 days after it (premake = 4)
        #expect(parts.count == 40 + premade)
        #expect(parts.first == "readings_p20240101")
        #expect(parts.contains("readings_p20240209"))
        #expect(!parts.contains("readings_p20240210"))
        let perDay = try TestPostgres.query("SELECT count(*) FROM \(schema).readings_p20240115")
        #expect(perDay.first?.first == "24")
        let total = try TestPostgres.query("SELECT count(*) FROM \(schema).readings")
        #expect(total.first?.first == "960")
        let defaults = try TestPostgres.query("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = '\(schema).readings'::regclass AND partdefid <> 0")
        #expect(defaults.first?.first == "0")
    }

    /// Rows are copied into their partition itself (the parent's statement trigger never fires),
    /// or through the parent with `direct = false`; either way the same rows land in the same
    /// partitions and a row a partition refuses is found and dead-lettered.
    @Test(arguments: [true, false])
    func rowsGoStraightToTheirPartitionOrThroughTheParent(direct: Bool) async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        try TestPostgres.connection().exec("""
            CREATE TABLE \(schema).readings (ts timestamp with time zone NOT NULL, v bigint CHECK (v <> 13)) PARTITION BY RANGE (ts);
            CREATE TABLE \(schema).statements (target text);
            CREATE FUNCTION \(schema).count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO \(schema).statements VALUES (TG_TABLE_NAME); RETURN NULL; END $$;
            CREATE TRIGGER parent_statement AFTER INSERT ON \(schema).readings FOR EACH STATEMENT EXECUTE FUNCTION \(schema).count_statement();
            """)
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = "readings"; var p = PostgresConfiguration.Partitioning(column: "ts"); p.direct = direct; p.premake = 0; $0.partition = p }
        // Three days, the rows of two of them interleaved, in two batches; v = 13 is refused.
        let day: Int64 = 86_400_000_000, start: Int64 = 1_704_067_200_000_000  // 2024-01-01
        let batches = (0..<2).map { b in
            let ts = (0..<300).map { i in start + Int64((b * 300 + i) % 3) * day + Int64(b * 300 + i) * 1_000_000 }
            return batch([Field("ts", .timestamp, nullable: false), Field("v", .int64)],
                         [Column(.timestamp(ts)), Column(.int64((0..<300).map { Int64(b * 300 + $0) }))])
        }
        // The fast load (partitions made in its transaction) is refused, rolled back and replayed.
        var (refused, replays, cp) = try await writeReplaying(sink, batches)
        #expect(replays == 1)
        cp.sequence += 1
        _ = try await sink.commit(cp)
        #expect(refused.count == 1)
        #expect(refused.first?.reason.contains("23514") == true, "\(refused.map(\.reason))")
        #expect(refused.first?.origin.line == 15)  // row 13 of the first batch
        let perPartition = try TestPostgres.query("""
            SELECT tableoid::regclass::text, count(*), min(v) FROM \(schema).readings GROUP BY 1 ORDER BY 1
            """)
        #expect(perPartition == [["\(schema).readings_p20240101", "200", "0"], ["\(schema).readings_p20240102", "199", "1"], ["\(schema).readings_p20240103", "200", "2"]])
        #expect(try TestPostgres.query("SELECT count(*) FROM \(schema).readings WHERE (ts AT TIME ZONE 'UTC')::date <> (date '2024-01-01' + v::int % 3)") == [["0"]])
        let parentStatements = try TestPostgres.query("SELECT count(*) FROM \(schema).statements")[0][0]!
        if direct {
            #expect(parentStatements == "0", "a COPY went through the parent table")
        } else {
            #expect(parentStatements != "0", "no COPY went through the parent table")
        }
    }

    @Test func upsertUpdatesChangedRowsAndInsertsNewOnes() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = "veiculos"; $0.mode = .upsert; $0.key = ["placa"] }
        var cp = try await sink.open(context: context)
        let fields = [Field("placa", .string, nullable: false), Field("modelo", .string), Field("km", .int64)]
        _ = try await sink.write(batch(fields, [Column(.string(StringColumn(["ABC1D23", "XYZ9K88", "QWE4R56"]))),
                                                Column(.string(StringColumn(["Volvo", "Scania", "MB"]))), Column(.int64([100, 200, 300]))]))
        #expect(try await sink.flush().isEmpty)
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        // One changed (twice in the batch: the last wins), one new, one unchanged.
        _ = try await sink.write(batch(fields, [Column(.string(StringColumn(["XYZ9K88", "NEW0A00", "XYZ9K88"]))),
                                                Column(.string(StringColumn(["Scania R", "Iveco", "Scania S"]))), Column(.int64([250, 10, 260]))]))
        #expect(try await sink.flush().isEmpty)
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        let rows = try TestPostgres.query("SELECT placa, modelo, km::text FROM \(schema).veiculos ORDER BY placa")
        #expect(rows == [["ABC1D23", "Volvo", "100"], ["NEW0A00", "Iveco", "10"], ["QWE4R56", "MB", "300"], ["XYZ9K88", "Scania S", "260"]])
    }

    /// The conformance table read back: every column as `SinkConformance.canonical` renders it.
    static func conformanceRows(_ schema: String, port: Int? = nil) throws -> [String] {
        try TestPostgres.query("""
            SELECT concat_ws('|', id::text, coalesce(label, 'null'), amount::text,
                CASE WHEN reading = trunc(reading) THEN trunc(reading)::bigint::text || '.0' ELSE reading::text END,
                day::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                CASE WHEN ok THEN 'true' ELSE 'false' END, coalesce(spare::text, 'null'))
            FROM \(schema).conformance
            """).map { $0[0] ?? "" }
    }

    /// `streams = 2` also partitions by day: the first commit makes the partitions on one
    /// stream, and the later ones alternate between the two connections.
    func conformanceTarget(_ schema: String, url: String = TestPostgres.url, streams: Int = 1) -> SinkConformance.Target {
        var c = PostgresConfiguration(url: url, table: "conformance")
        c.schema = schema
        c.timeout = ConfigDuration(seconds: 5)
        if streams == 2 { Self.useTwoStreams(&c) }
        let configuration = c
        return SinkConformance.Target(
            pipeline: "pg-conformance-\(schema)",
            makeSink: { PostgresSink(configuration: configuration, password: TestPostgres.password, logger: Logger(label: "test")) },
            store: InMemoryCheckpointStore(),
            readBack: { try Self.conformanceRows(schema) })
    }

    static func useTwoStreams(_ c: inout PostgresConfiguration) {
        c.streams = 2
        c.partition = .init(column: "day")
        c.partition?.premake = 0
    }

    @Test(arguments: [1, 2])
    func conformanceKilledBetweenWriteAndCommit(streams: Int) async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        let t = conformanceTarget(schema, streams: streams)
        try await SinkConformance.checkKill(t) { committed, uncommitted in
            try ConformanceChild.spawn(["postgres", t.pipeline, TestPostgres.url, TestPostgres.password ?? "", schema, "conformance"]
                                       + (streams == 2 ? ["--two-streams"] : []) + ["\(committed)", "\(uncommitted)"])
        }
    }

    @Test(arguments: [1, 2])
    func conformanceConnectionSeveredMidTransaction(streams: Int) async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        let proxy = try FaultProxy(upstreamPort: TestPostgres.port)
        defer { proxy.stop() }
        let t = conformanceTarget(schema, url: TestPostgres.url(port: proxy.port), streams: streams)
        try await SinkConformance.checkSevered(t, sever: { proxy.cutAll() }, restore: {})
    }

    @Test(arguments: [1, 2])
    func conformanceConnectionStalledMidTransaction(streams: Int) async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        let proxy = try FaultProxy(upstreamPort: TestPostgres.port)
        defer { proxy.stop() }
        let t = conformanceTarget(schema, url: TestPostgres.url(port: proxy.port), streams: streams)
        // The sink's timeout (5 s) must end the stalled connection; the path then heals.
        try await SinkConformance.checkSevered(t, sever: { proxy.setMode(.stall) }, restore: { proxy.cutAll(); proxy.setMode(.pass) })
    }

    @Test func foreignKeyViolationsAreBisectedToTheBadRows() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        try TestPostgres.connection().exec("""
            CREATE TABLE \(schema).veiculos (placa text PRIMARY KEY);
            INSERT INTO \(schema).veiculos VALUES ('A'), ('B'), ('C');
            CREATE TABLE \(schema).manutencoes (placa text NOT NULL REFERENCES \(schema).veiculos (placa), custo bigint);
            """)
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = "manutencoes"; $0.createTable = false }
        let placas = (0..<100).map { $0 == 17 ? "Z" : $0 == 60 ? "Y" : ["A", "B", "C"][$0 % 3] }
        // Append mode streams into one COPY; the foreign key is checked when it ends (flush).
        var (refused, replays, cp) = try await writeReplaying(sink, [batch([Field("placa", .string, nullable: false), Field("custo", .int64)],
                                                                          [Column(.string(StringColumn(placas))), Column(.int64((0..<100).map { Int64($0) }))])])
        #expect(replays == 1)
        #expect(await sink.careful)
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        #expect(await sink.careful == false, "the careful commit covered the refused transaction's rows")
        #expect(refused.map(\.origin.line) == [19, 62])
        #expect(refused.first?.reason.contains("foreign key") == true)
        #expect(refused.first?.reason.contains("23503") == true)
        #expect(String(decoding: refused[0].raw, as: UTF8.self) == "raw 17")
        let count = try TestPostgres.query("SELECT count(*) FROM \(schema).manutencoes")
        #expect(count.first?.first == "98")
    }

    @Test func refusedRowsInEarlierStreamedBatchesAreFoundAtFlushAndTheRestLoads() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        try TestPostgres.connection().exec("""
            CREATE TABLE \(schema).veiculos (placa text PRIMARY KEY);
            INSERT INTO \(schema).veiculos VALUES ('A'), ('B');
            CREATE TABLE \(schema).manutencoes (placa text NOT NULL REFERENCES \(schema).veiculos (placa), id bigint UNIQUE);
            """)
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = "manutencoes"; $0.createTable = false }
        // Five batches of 1000 in one streamed COPY: a foreign-key miss in the first, a duplicate
        // key (checked as rows arrive, not at the end) in the fourth.
        let batches = (0..<5).map { b in
            let ids = (0..<1000).map { Int64(b * 1000 + $0) }
            let placas = ids.map { $0 == 10 ? "Z" : $0 % 2 == 0 ? "A" : "B" }
            var idValues = ids
            if b == 3 { idValues[500] = 42 } // collides with batch 0's id 42
            return batch([Field("placa", .string, nullable: false), Field("id", .int64)], [Column(.string(StringColumn(placas))), Column(.int64(idValues))])
        }
        var (refused, replays, cp) = try await writeReplaying(sink, batches)
        #expect(replays == 1)
        cp.files["f.csv"] = FileCursor()
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        #expect(refused.count == 2)
        #expect(refused.contains { $0.reason.contains("23503") && $0.origin.line == 12 })
        #expect(refused.contains { $0.reason.contains("23505") && $0.origin.line == 502 })
        #expect(try TestPostgres.query("SELECT count(*), count(DISTINCT id) FROM \(schema).manutencoes").first == ["4998", "4998"])
    }

    /// Careful (replaying), each streamed COPY of a segment has its own savepoint: a refusal in the
    /// second segment rolls back that segment alone, its good rows are loaded again, and the first segment's rows (one
    /// refused there too) stay.
    @Test func aRefusalInALaterSegmentRollsBackOnlyThatSegment() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        try TestPostgres.connection().exec("CREATE TABLE \(schema).readings (id bigint UNIQUE, v bigint)")
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = "readings"; $0.createTable = false }
        let batchRows = 10_000
        let batches = PostgresSink.streamSegmentRows / batchRows + 3 // the segment ends within them
        let written = (0..<batches).map { b in
            var ids = (0..<batchRows).map { Int64(b * batchRows + $0) }
            if b == 0 { ids[7] = 3 }                       // a duplicate inside the first segment
            if b == batches - 1 { ids[9_000] = 1_234 }    // one of the first segment's ids, in the second
            return batch([Field("id", .int64), Field("v", .int64)], [Column(.int64(ids)), Column(.int64(ids))])
        }
        // The fast stream is refused and replayed; the replay streams segments under savepoints.
        var (refused, replays, cp) = try await writeReplaying(sink, written)
        #expect(replays == 1)
        cp.sequence += 1
        _ = try await sink.commit(cp)
        #expect(refused.count == 2)
        #expect(refused.allSatisfy { $0.reason.contains("23505") })
        #expect(Set(refused.map(\.origin.line)) == [9, 9_002])
        let total = batches * batchRows
        let lostIDs = 7 + (batches - 1) * batchRows + 9_000 // the refused rows' ids were replaced by duplicates
        let expectedSum = total * (total - 1) / 2 - lostIDs
        let loaded = try TestPostgres.query("SELECT count(*), count(DISTINCT id), sum(v) FROM \(schema).readings").first
        #expect(loaded == [String(total - 2), String(total - 2), String(expectedSum)])
    }

    /// After a refused fast transaction the sink stays careful until it has committed as many
    /// rows as that transaction had sent (so the replay passes the refused row under savepoints,
    /// however the engine cuts its commits), and is fast again after.
    @Test func theSinkStaysCarefulUntilTheReplayHasCommittedTheRefusedTransactionsRows() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        try TestPostgres.connection().exec("CREATE TABLE \(schema).readings (id bigint UNIQUE, v bigint)")
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = "readings"; $0.createTable = false }
        func ids(_ b: Int) -> RecordBatch {
            var ids = (0..<1000).map { Int64(b * 1000 + $0) }
            if b == 2 { ids[5] = 7 } // a duplicate of batch 0's id 7
            return batch([Field("id", .int64), Field("v", .int64)], [Column(.int64(ids)), Column(.int64(ids))])
        }
        var cp = try await sink.open(context: context)
        for b in 0..<3 { _ = try await sink.write(ids(b)) }
        await #expect(throws: ConnectorError.self) { _ = try await sink.flush() }
        #expect(try TestPostgres.query("SELECT count(*) FROM \(schema).readings").first == ["0"])
        // The replay, committed in two parts: careful until the 3000 rows are committed.
        cp = try await sink.open(context: context)
        #expect(await sink.careful)
        _ = try await sink.write(ids(0))
        #expect(try await sink.flush().isEmpty)
        cp.sequence += 1
        cp = try await sink.commit(cp)
        #expect(await sink.careful, "1000 of the 3000 rows committed")
        var refused = try await sink.write(ids(1))
        refused += try await sink.write(ids(2))
        refused += try await sink.flush()
        cp.sequence += 1
        cp = try await sink.commit(cp)
        #expect(refused.map(\.origin.line) == [7])
        #expect(await sink.careful == false)
        // Fast again: a refusal asks for a replay instead of bisecting.
        var again = ids(3)
        again = batch(again.schema.fields, [Column(.int64([1] + (1..<1000).map { Int64(3000 + $0) })), again.columns[1]])
        _ = try await sink.write(again)
        await #expect(throws: ConnectorError.self) { _ = try await sink.flush() }
        #expect(try TestPostgres.query("SELECT count(*), count(DISTINCT id) FROM \(schema).readings").first == ["2999", "2999"])
    }

    @Test func hostileTableNameIsStoredLiterally() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        try TestPostgres.connection().exec("CREATE TABLE \(schema).y (id int)")
        let name = "x\"; DROP TABLE y; --"
        let sink = TestPostgres.sink { $0.schema = schema; $0.table = name }
        var cp = try await sink.open(context: context)
        _ = try await sink.write(batch([Field("v", .int64)], [Column(.int64([42]))]))
        #expect(try await sink.flush().isEmpty)
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        let tables = try TestPostgres.query("SELECT tablename FROM pg_tables WHERE schemaname = '\(schema)' ORDER BY 1").map { $0[0]! }
        #expect(tables.sorted() == [name, "y"].sorted())
        let v = try TestPostgres.query("SELECT v::text FROM \(schema).\"x\"\"; DROP TABLE y; --\"")
        #expect(v.first?.first == "42")
    }

    @Test func existingTableWithOtherTypesIsReportedByColumn() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        try TestPostgres.connection().exec("CREATE TABLE \(schema).t (ts timestamptz, v integer)")
        let sink = TestPostgres.sink { $0.schema = schema }
        _ = try await sink.open(context: context)
        do {
            _ = try await sink.write(batch([Field("ts", .timestamp), Field("v", .int64), Field("w", .string)],
                                           [Column(.timestamp([0])), Column(.int64([1])), Column(.string(StringColumn(["x"])))]))
            Issue.record("expected a mismatch error")
        } catch {
            let text = "\(error)"
            #expect(text.contains("column 'v' is integer in the table, the pipeline declares int64 (bigint)"))
            #expect(text.contains("column 'w' is missing from the table"))
        }
    }

    @Test func wrongPasswordIsAnAuthenticationError() async throws {
        let sink = PostgresSink(configuration: PostgresConfiguration(url: "postgresql://postgres@127.0.0.1:55432/postgres", table: "t"),
                                password: "wrong-password", logger: Logger(label: "t"))
        do {
            _ = try await sink.open(context: context)
            Issue.record("expected an error")
        } catch let e as ConnectorError {
            #expect(e.code == .authentication)
            #expect(!e.description.contains("wrong-password"))
        }
    }
}
