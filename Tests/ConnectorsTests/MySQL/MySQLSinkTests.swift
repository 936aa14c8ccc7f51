import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
@testable import CoreConnectors
@testable import MySQLConnector
import Foundation
import Logging
import Testing
import TestSupport

/// The throwaway server of `scripts/mariadb-start.sh`. Locally the suite is skipped (with this
/// reason) when no server answers; under CI (`CI=true`) it always runs.
enum TestMySQL {
    static let url = ProcessInfo.processInfo.environment["SLUICE_TEST_MYSQL"].map { u in
        // The script prints the URL with its password; the sink takes it apart.
        var c = URLComponents(string: u)!
        c.password = nil
        return c.string!
    } ?? "mysql://sluice@127.0.0.1:53306/sluice_test"
    static let password = "testpw"
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static let available: Bool = (try? connection()) != nil
    static let enabled = available || required
    static var port: Int { URLComponents(string: url)?.port ?? 53306 }

    static func connection() throws -> MySQLConnection {
        try MySQLConnection(host: "127.0.0.1", port: port, user: "sluice", password: password, database: "sluice_test", timeout: 5)
    }

    static func query(_ sql: String) throws -> [[String?]] { try connection().query(sql) }

    static func url(port: Int) -> String {
        var c = URLComponents(string: url)!
        c.port = port
        return c.string!
    }

    static func sink(_ configure: (inout MySQLConfiguration) -> Void) -> MySQLSink {
        var c = MySQLConfiguration(url: url, table: "t")
        c.timeout = ConfigDuration(seconds: 5)
        configure(&c)
        return MySQLSink(configuration: c, password: password, logger: Logger(label: "test"))
    }

    static func freshTable(_ prefix: String) -> String { "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())" }

    static func drop(_ tables: String...) {
        for t in tables { _ = try? query("DROP TABLE IF EXISTS `\(t)`") }
    }
}

@Suite(.blockingWork, .serialized, .enabled(if: TestMySQL.enabled, "no MariaDB on 127.0.0.1:53306: run scripts/mariadb-start.sh (under CI this suite always runs)"))
struct MySQLSinkTests {
    let context = SinkContext(pipeline: "mysql-test-\(UUID().uuidString.prefix(6))")

    func batch(_ fields: [Field], _ columns: [Column]) -> RecordBatch {
        let n = columns.first?.count ?? 0
        return RecordBatch(schema: Schema(fields), columns: columns,
                           origins: RecordOrigins(file: "f.csv", lines: (0..<n).map { Int64($0 + 2) }, byteOffsets: (0..<n).map { Int64($0 * 10) },
                                                  raw: RawRecords(StringColumn((0..<n).map { "raw \($0)" }))))
    }

    /// The conformance table read back, each column parsed and rendered as Sluice renders it.
    static func conformanceRows(_ table: String) throws -> [String] {
        try TestMySQL.query("SELECT id, label, amount, reading, day, at, ok, spare FROM `\(table)`").map { row in
            zip(row, SinkConformance.schema.fields).map { text, field -> String in
                guard let text else { return "null" }
                switch field.type {
                case .float64: return "\(Double(text)!)"
                case .bool: return text == "1" ? "true" : "false"
                case .timestamp: return Value.timestamp(ISOTime.timestamp(text.replacingOccurrences(of: " ", with: "T") + "Z")!).description
                default: return text
                }
            }.joined(separator: "|")
        }
    }

    func conformanceTarget(_ table: String, url: String = TestMySQL.url, broken: Bool = false, load: MySQLConfiguration.Load = .insert) -> SinkConformance.Target {
        var c = MySQLConfiguration(url: url, table: table)
        c.load = load
        c.timeout = ConfigDuration(seconds: 5)
        c.rowsPerStatement = 200
        let configuration = c
        return SinkConformance.Target(
            pipeline: "mysql-conformance-\(table)",
            makeSink: {
                let sink = MySQLSink(configuration: configuration, password: TestMySQL.password, logger: Logger(label: "test"))
                return broken ? BrokenSink(sink, fault: .storesAStaleCheckpoint) as any Sink : sink
            },
            store: InMemoryCheckpointStore(),
            readBack: { try Self.conformanceRows(table) })
    }

    @Test(arguments: [MySQLConfiguration.Load.insert, .loadData])
    func everyTypeRoundTripsWithNullsAndDecimalPrecision(load: MySQLConfiguration.Load) async throws {
        let table = TestMySQL.freshTable("types")
        defer { TestMySQL.drop(table) }
        let sink = TestMySQL.sink { $0.table = table; $0.load = load }
        var cp = try await sink.open(context: context)
        let b = SinkConformance.batch(0, rows: 300)
        #expect(try await sink.write(b).isEmpty)
        #expect(try await sink.flush().isEmpty)
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        try await sink.close()
        // load_data really went through LOAD DATA (a silent fallback to INSERT would also pass).
        #expect(await sink.rowsByLoadData == (load == .loadData ? b.count : 0))
        let expected = (0..<b.count).map { SinkConformance.canonical(b, row: $0) }
        try SinkConformance.compare(try Self.conformanceRows(table), expected, when: "after one commit")
        let types = try TestMySQL.query("SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '\(table)' ORDER BY ordinal_position")
        #expect(types.map { $0[0] ?? "" } == ["bigint(20)", "mediumtext", "decimal(12,3)", "double", "date", "datetime(6)", "tinyint(1)", "int(11)"])
    }

    @Test(arguments: [MySQLConfiguration.Load.insert, .loadData])
    func conformanceKilledBetweenWriteAndCommit(load: MySQLConfiguration.Load) async throws {
        let table = TestMySQL.freshTable("kill")
        defer { TestMySQL.drop(table) }
        let t = conformanceTarget(table, load: load)
        try await SinkConformance.checkKill(t) { committed, uncommitted in
            try ConformanceChild.spawn(["mysql", t.pipeline, TestMySQL.url, TestMySQL.password, table, load.rawValue, "\(committed)", "\(uncommitted)"])
        }
    }

    @Test(arguments: [MySQLConfiguration.Load.insert, .loadData])
    func conformanceConnectionSeveredMidTransaction(load: MySQLConfiguration.Load) async throws {
        let table = TestMySQL.freshTable("cut")
        defer { TestMySQL.drop(table) }
        let proxy = try FaultProxy(upstreamPort: TestMySQL.port)
        defer { proxy.stop() }
        let t = conformanceTarget(table, url: TestMySQL.url(port: proxy.port), load: load)
        try await SinkConformance.checkSevered(t, sever: { proxy.cutAll() }, restore: {})
    }

    @Test func conformanceConnectionStalledMidTransaction() async throws {
        let table = TestMySQL.freshTable("stall")
        defer { TestMySQL.drop(table) }
        let proxy = try FaultProxy(upstreamPort: TestMySQL.port)
        defer { proxy.stop() }
        let t = conformanceTarget(table, url: TestMySQL.url(port: proxy.port))
        // The sink's timeout (5 s) ends the stalled connection; the path then heals.
        try await SinkConformance.checkSevered(t, sever: { proxy.setMode(.stall) }, restore: { proxy.cutAll(); proxy.setMode(.pass) })
    }

    /// The checks can fail: a sink that stores a stale checkpoint with its rows is caught.
    @Test func conformanceCatchesAStaleCheckpoint() async throws {
        let table = TestMySQL.freshTable("stale")
        defer { TestMySQL.drop(table) }
        let proxy = try FaultProxy(upstreamPort: TestMySQL.port)
        defer { proxy.stop() }
        let t = conformanceTarget(table, url: TestMySQL.url(port: proxy.port), broken: true)
        await #expect(throws: SinkConformance.Failure.self) {
            try await SinkConformance.checkSevered(t, sever: { proxy.cutAll() }, restore: {})
        }
    }

    /// With load_data, LOCAL would skip refused rows with a warning: the load is undone and the
    /// INSERT path names them, so the result is the same as with insert.
    @Test(arguments: [MySQLConfiguration.Load.insert, .loadData])
    func foreignKeyViolationsAreBisectedToTheBadRows(load: MySQLConfiguration.Load) async throws {
        let parent = TestMySQL.freshTable("veiculos"), child = TestMySQL.freshTable("manutencoes")
        defer { TestMySQL.drop(child, parent) }
        _ = try TestMySQL.query("CREATE TABLE `\(parent)` (placa VARCHAR(16) PRIMARY KEY) ENGINE=InnoDB")
        _ = try TestMySQL.query("INSERT INTO `\(parent)` VALUES ('A'), ('B'), ('C')")
        _ = try TestMySQL.query("CREATE TABLE `\(child)` (placa VARCHAR(16) NOT NULL, custo BIGINT, FOREIGN KEY (placa) REFERENCES `\(parent)` (placa)) ENGINE=InnoDB")
        let sink = TestMySQL.sink { $0.table = child; $0.createTable = false; $0.rowsPerStatement = 1000; $0.load = load }
        var cp = try await sink.open(context: context)
        let placas = (0..<100).map { $0 == 17 ? "Z" : $0 == 60 ? "Y" : ["A", "B", "C"][$0 % 3] }
        var refused = try await sink.write(batch([Field("placa", .string, nullable: false), Field("custo", .int64)],
                                                 [Column(.string(StringColumn(placas))), Column(.int64((0..<100).map { Int64($0) }))]))
        refused += try await sink.flush()
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        try await sink.close()
        #expect(refused.map(\.origin.line) == [19, 62])
        #expect(refused.first?.reason.contains("foreign key constraint fails") == true, "\(refused.first?.reason ?? "")")
        #expect(refused.first?.reason.contains("1452") == true)
        #expect(String(decoding: refused[0].raw, as: UTF8.self) == "raw 17")
        #expect(try TestMySQL.query("SELECT count(*), sum(custo) FROM `\(child)`").first == ["98", "\(4950 - 17 - 60)"])
    }

    @Test func aDuplicateKeyInAppendModeIsADeadLetterWithLoadDataToo() async throws {
        let table = TestMySQL.freshTable("dup")
        defer { TestMySQL.drop(table) }
        _ = try TestMySQL.query("CREATE TABLE `\(table)` (id BIGINT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB")
        let sink = TestMySQL.sink { $0.table = table; $0.load = .loadData }
        var cp = try await sink.open(context: context)
        var refused = try await sink.write(batch([Field("id", .int64), Field("v", .string)],
                                                 [Column(.int64([1, 2, 2, 3])), Column(.string(StringColumn(["a", "b", "c", "toolongvalue!"])))]))
        refused += try await sink.flush()
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        try await sink.close()
        #expect(refused.map(\.origin.line) == [4, 5])
        #expect(refused.first?.reason.contains("Duplicate entry '2'") == true, "\(refused.first?.reason ?? "")")
        #expect(refused.last?.reason.contains("Data too long") == true, "\(refused.last?.reason ?? "")")
        #expect(try TestMySQL.query("SELECT id, v FROM `\(table)` ORDER BY id") == [["1", "a"], ["2", "b"]])
    }

    @Test func upsertUpdatesChangedRowsAndInsertsNewOnes() async throws {
        let table = TestMySQL.freshTable("upsert")
        defer { TestMySQL.drop(table) }
        let fields = [Field("placa", .string, nullable: false), Field("km", .int64), Field("modelo", .string)]
        let sink = TestMySQL.sink { $0.table = table; $0.mode = .upsert; $0.key = ["placa"] }
        var cp = try await sink.open(context: context)
        _ = try await sink.write(batch(fields, [Column(.string(StringColumn(["ABC1D23", "XYZ9K88"]))), Column(.int64([1000, 2000])),
                                                Column(.string(StringColumn(["Volvo", "Scania"])))]))
        cp.sequence += 1
        cp = try await sink.commit(cp)
        _ = try await sink.write(batch(fields, [Column(.string(StringColumn(["XYZ9K88", "NEW0A00"]))), Column(.int64([2500, 10])),
                                                Column(.string(StringColumn(["Scania R", "Iveco"])))]))
        cp.sequence += 1
        _ = try await sink.commit(cp)
        try await sink.close()
        #expect(try TestMySQL.query("SELECT placa, km, modelo FROM `\(table)` ORDER BY placa") == [["ABC1D23", "1000", "Volvo"], ["NEW0A00", "10", "Iveco"], ["XYZ9K88", "2500", "Scania R"]])
        let reopened = TestMySQL.sink { $0.table = table; $0.mode = .upsert; $0.key = ["placa"] }
        #expect(try await reopened.open(context: context).sequence == 2)
        try await reopened.close()
    }

    @Test func hostileNamesAndValuesAreStoredLiterally() async throws {
        let table = "t`; DROP TABLE x; -- " + UUID().uuidString.prefix(6)
        defer { _ = try? TestMySQL.query("DROP TABLE IF EXISTS `\(table.replacingOccurrences(of: "`", with: "``"))`") }
        let sink = TestMySQL.sink { $0.table = table }
        var cp = try await sink.open(context: context)
        let values = ["it's", "back\\slash", "quote\"", "nul\u{0}byte", "emoji 🏭", "'); DROP TABLE t; --"]
        _ = try await sink.write(batch([Field("v", .string)], [Column(.string(StringColumn(values)))]))
        cp.sequence += 1 // each commit follows the last (the sink fences on it)
        _ = try await sink.commit(cp)
        try await sink.close()
        let stored = try TestMySQL.query("SELECT v FROM `\(table.replacingOccurrences(of: "`", with: "``"))`").map { $0[0] ?? "" }
        #expect(stored.sorted() == values.sorted())
    }

    @Test func wrongPasswordIsAnAuthenticationError() async throws {
        let sink = MySQLSink(configuration: MySQLConfiguration(url: TestMySQL.url, table: "t"), password: "wrong", logger: Logger(label: "test"))
        let error = await #expect(throws: ConnectorError.self) { _ = try await sink.open(context: context) }
        #expect(error?.code == .authentication)
        #expect(error?.description.contains("1045") == true, "\(String(describing: error))")
        #expect(error?.description.contains("wrong") == false)
    }

    @Test func anUnreachableServerIsNotConnected() async throws {
        let port = try FaultProxy(upstreamPort: 1).port // a port nobody listens on once the proxy stops
        let sink = MySQLSink(configuration: MySQLConfiguration(url: TestMySQL.url(port: port), table: "t"), password: TestMySQL.password, logger: Logger(label: "test"))
        let error = await #expect(throws: ConnectorError.self) { _ = try await sink.open(context: context) }
        #expect(error?.code == .notConnected, "\(String(describing: error))")
    }
}

extension MySQLSinkTests {
    /// Two sinks opened on the same pipeline (two daemons at once): the second commit is refused
    /// and rolled back with its rows; both for a first commit (no row yet) and a later one.
    @Test func twoSinksLoadingThePipelineAtOnceCannotBothCommit() async throws {
        let table = TestMySQL.freshTable("fenced")
        defer { TestMySQL.drop(table) }
        let context = SinkContext(pipeline: "fence-\(table)")
        defer { _ = try? TestMySQL.query("DELETE FROM sluice_checkpoints WHERE pipeline = '\(context.pipeline)'") }
        func rows(_ values: [Int64]) -> RecordBatch { batch([Field("v", .int64)], [Column(.int64(values))]) }
        for round in 0..<2 {
            let first = TestMySQL.sink { $0.table = table }
            let second = TestMySQL.sink { $0.table = table }
            var opened = try await first.open(context: context)
            #expect(try await second.open(context: context) == opened)
            #expect(opened.sequence == Int64(round))
            _ = try await first.write(rows([1, 2, 3]))
            _ = try await second.write(rows([1, 2, 3]))
            opened.sequence += 1
            _ = try await first.flush()
            _ = try await first.commit(opened)
            _ = try await second.flush()
            do {
                _ = try await second.commit(opened)
                Issue.record("round \(round): the second writer committed the same rows again")
            } catch let error as ConnectorError {
                #expect(error.code == .fenced, "\(error)")
            }
            try await first.close()
            try await second.close()
            #expect(try TestMySQL.query("SELECT count(*), sum(v) FROM `\(table)`").first == ["\(3 * (round + 1))", "\(6 * (round + 1))"])
        }
    }
}
