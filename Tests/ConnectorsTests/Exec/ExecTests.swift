import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
@testable import CoreConnectors
import Foundation
import Logging
import PipelineLoader
import Testing
import TestSupport

/// The exec source and sink with real programs (Python): the example plugins of
/// examples/exec-python, and test plugins that crash, hang, print garbage or report errors.
@Suite(.blockingWork, .serialized) struct ExecTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let python = ProcessInfo.processInfo.environment["SLUICE_TEST_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/bin/python3"
    static let plugins = root + "/Tests/ConnectorsTests/Exec/test_plugins.py"
    static let sqliteSink = root + "/examples/exec-python/sqlite_sink.py"
    static let sqliteSource = root + "/examples/exec-python/sqlite_source.py"

    static func temporaryDirectory() throws -> String {
        let dir = TestCleanup.removeAtExit(NSTemporaryDirectory() + "sluice-exec-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func source(_ arguments: [String], timeout: Double = 20) -> ExecSource {
        var c = ExecConfiguration(command: [python, plugins] + arguments)
        c.timeout = ConfigDuration(seconds: timeout)
        c.shutdownTimeout = ConfigDuration(seconds: 2)
        return ExecSource(c, directory: root)
    }

    static func sink(db: String, table: String, pipeline: String) -> ExecSink {
        var c = ExecConfiguration(command: [python, sqliteSink, "--db", db, "--table", table])
        c.timeout = ConfigDuration(seconds: 30)
        return ExecSink(c, directory: root, pipeline: pipeline)
    }

    static func engine(_ source: any Source, _ sink: any Sink, dir: String, name: String = "exec-test") -> PipelineEngine {
        PipelineEngine(pipeline: Pipeline(name: name, source: source, decoder: nil, transforms: [], sink: sink, deadLetterPath: dir + "/dead-letters.jsonl"),
                       checkpointStore: LocalCheckpointStore(stateDirectory: dir + "/state", pipeline: name))
    }

    static func context(_ name: String = "exec-test") -> RunContext { RunContext(pipeline: name, logger: Logger(label: "exec-test")) }

    static func canonical(_ batches: [RecordBatch]) -> [String] {
        batches.flatMap { b in (0..<b.count).map { SinkConformance.canonical(b, row: $0) } }
    }

    /// The rows of a SQLite table, rendered as `SinkConformance.canonical` renders records of `schema`.
    static func readBack(db: String, table: String, schema: Schema) throws -> [String] {
        let script = """
            import json, sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            columns = db.execute(f'PRAGMA table_info("{sys.argv[2]}")').fetchall()
            booleans = [(c[2] or "").upper() == "BOOLEAN" for c in columns]
            for row in (db.execute(f'SELECT * FROM "{sys.argv[2]}"') if columns else []):
                print(json.dumps([bool(v) if b and v is not None else v for v, b in zip(row, booleans)]))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, db, table]
        let out = ProcessLaunch.pipe()
        p.standardOutput = out
        try ProcessLaunch.run(p)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return try data.split(separator: 0x0A).map { line in
            let values = try JSONDecoder().decode([ExecProtocol.JSONValue].self, from: Data(line))
            return zip(values, schema.fields).map { v, f in
                switch RecordAssembler.value(v, as: f.type) {
                case let .success(value): value.description
                case let .failure(reason): "?\(reason.message)"
                }
            }.joined(separator: "|")
        }
    }

    /// Processes whose command line holds `marker` (a plugin that should be gone).
    static func processes(with marker: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: cmdline, as: UTF8.self).contains(marker)
        }
    }

    // MARK: Well-behaved plugins

    /// Every column type from a Python source, through the engine, into the Python SQLite sink
    /// and back: the same values.
    @Test func everyTypeGoesFromAPythonSourceToAPythonSinkUnchanged() async throws {
        let dir = try Self.temporaryDirectory()
        let reference = CollectingSink()
        try await Self.engine(Self.source(["numbers", "12"]), reference, dir: dir + "/ref").runOnce(context: Self.context())
        let expected = Self.canonical(reference.batches)
        #expect(expected.count == 12)
        #expect(expected.first == "1|row 1 Pressão \"q\"|1.500|-9.75|2026-11-02|2026-11-30T07:01:00.000001Z|false", "\(expected.first ?? "")")
        let db = dir + "/lake.db"
        try await Self.engine(Self.source(["numbers", "12"]), Self.sink(db: db, table: "t", pipeline: "exec-test"), dir: dir).runOnce(context: Self.context())
        let schema = try #require(reference.batches.first?.schema)
        #expect(try Self.readBack(db: db, table: "t", schema: schema).sorted() == expected.sorted())
        // A second run finds nothing new: the sink's checkpoint sent the source's cursor back.
        try await Self.engine(Self.source(["numbers", "12"]), Self.sink(db: db, table: "t", pipeline: "exec-test"), dir: dir).runOnce(context: Self.context())
        #expect(try Self.readBack(db: db, table: "t", schema: schema).count == 12)
    }

    @Test func theExecSourcePassesTheRecordSourceConformanceCheck() async throws {
        try await RecordSourceConformance.check(makeSource: { Self.source(["numbers", "20", "--every", "3"]) }, options: .init(key: "id", replayable: true))
    }

    @Test func theExampleSQLiteSourcePassesItToo() async throws {
        let dir = try Self.temporaryDirectory()
        let db = dir + "/mes.db"
        let setup = Process()
        setup.executableURL = URL(fileURLWithPath: Self.python)
        setup.arguments = ["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, machine TEXT, weight DECIMAL(10,3), at TIMESTAMP, ok BOOLEAN)")
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", [(i, f"press-{i % 3}", f"{i}.125", f"2026-11-30T08:{i % 60:02d}:00Z", i % 2) for i in range(1, 31)])
            db.commit()
            """, db]
        try ProcessLaunch.run(setup)
        setup.waitUntilExit()
        var c = ExecConfiguration(command: [Self.python, Self.sqliteSource, "--db", db, "--table", "events", "--key", "id", "--batch", "4"])
        c.shutdownTimeout = ConfigDuration(seconds: 2)
        let configuration = c
        try await RecordSourceConformance.check(makeSource: { ExecSource(configuration, directory: "/") }, options: .init(key: "id", replayable: true))
    }

    /// The check can fail for an exec source: a program that ignores the cursor it is given.
    @Test func theConformanceCheckCatchesAProgramThatIgnoresItsCursor() async throws {
        struct CursorDropping: Source {
            let inner: ExecSource
            func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
                try await inner.run(from: Checkpoint(), context: context, emit: emit)
            }
        }
        await #expect(throws: RecordSourceConformance.Failure.self) {
            try await RecordSourceConformance.check(makeSource: { CursorDropping(inner: Self.source(["numbers", "9", "--every", "3"])) },
                                                    options: .init(key: "id", replayable: true))
        }
    }

    @Test func theExamplePipelineValidates() {
        let loader = PipelineFileLoader(registry: BuiltinPlugins.registry, environment: ["MES_DB": "/tmp/mes.db", "LAKE_DB": "/tmp/lake.db"])
        let (pipelines, _, errors) = loader.loadDirectory(Self.root + "/examples/exec-python")
        #expect(errors.isEmpty, "\(errors)")
        #expect(pipelines.map(\.name) == ["mes-to-lake"])
    }

    // MARK: The sink's commit contract

    func sinkTarget(_ dir: String, broken: Bool = false) -> SinkConformance.Target {
        let pipeline = "exec-conformance-\(UUID().uuidString.prefix(8))"
        let db = dir + "/lake.db"
        return SinkConformance.Target(
            pipeline: pipeline,
            makeSink: {
                let sink = Self.sink(db: db, table: "conformance", pipeline: pipeline)
                return broken ? BrokenSink(sink, fault: .storesAStaleCheckpoint) as any Sink : sink
            },
            store: InMemoryCheckpointStore(),
            readBack: { try Self.readBack(db: db, table: "conformance", schema: SinkConformance.schema) })
    }

    @Test func theExecSinkSurvivesASIGKILLBetweenWriteAndCommit() async throws {
        let dir = try Self.temporaryDirectory()
        let t = sinkTarget(dir)
        try await SinkConformance.checkKill(t) { committed, uncommitted in
            try ConformanceChild.spawn(["exec", t.pipeline, Self.python, Self.sqliteSink, dir + "/lake.db", "conformance", "\(committed)", "\(uncommitted)"])
        }
    }

    /// The plugin process killed in the middle of a transaction (its "connection" cut).
    @Test func theExecSinkSurvivesItsProgramKilledMidTransaction() async throws {
        let dir = try Self.temporaryDirectory()
        let t = sinkTarget(dir)
        let sinkBox = Locked<ExecSink?>(nil)
        let target = SinkConformance.Target(pipeline: t.pipeline, makeSink: {
            let s = try t.makeSink() as! ExecSink
            sinkBox.withLock { $0 = s }
            return s
        }, store: t.store, readBack: t.readBack)
        try await SinkConformance.checkSevered(target, sever: {
            let pid = await sinkBox.withLock { $0 }?.pluginProcessIdentifier
            if let pid { kill(pid, SIGKILL) }
        }, restore: {})
    }

    /// The checks can fail: a sink storing a stale checkpoint with its data is caught by both.
    @Test func theSinkChecksCatchAStaleCheckpoint() async throws {
        let dir = try Self.temporaryDirectory()
        let t = sinkTarget(dir, broken: true)
        await #expect(throws: SinkConformance.Failure.self) {
            try await SinkConformance.checkKill(t) { committed, uncommitted in
                try ConformanceChild.spawn(["exec", t.pipeline, Self.python, Self.sqliteSink, dir + "/lake.db", "conformance", "--broken", "\(committed)", "\(uncommitted)"])
            }
        }
    }

    // MARK: Misbehaving plugins

    @Test func aCrashIsReportedWithItsStderrAndTheRetryResumesFromTheCommittedCursor() async throws {
        let dir = try Self.temporaryDirectory()
        let marker = dir + "/crashed-once"
        let sink = CollectingSink()
        let context = Self.context()
        try await Self.engine(Self.source(["numbers", "12", "--crash-once", marker]), sink, dir: dir).runRetrying(context: context, attempts: 3, maxDelay: 0.5)
        #expect(FileManager.default.fileExists(atPath: marker), "the plugin did not crash")
        #expect(context.stats.counts.retries == 1)
        let ids = sink.batches.flatMap { b in (0..<b.count).map { b.value(row: $0, column: 0) } }
        #expect(ids == (1...12).map { Value.int(Int64($0)) }, "\(ids)")
    }

    @Test func aPluginThatAlwaysCrashesFailsTheRunWithItsStatusAndStderr() async throws {
        let dir = try Self.temporaryDirectory()
        let sink = CollectingSink()
        let context = Self.context()
        let error = await #expect(throws: ConnectorError.self) {
            try await Self.engine(Self.source(["crash"]), sink, dir: dir).runRetrying(context: context, attempts: 3, maxDelay: 0.2)
        }
        #expect(error?.code == .notConnected)
        #expect(error?.description.contains("ended: exited with status 3; its standard error ended with: boom: the machine's database went away") == true,
                "\(String(describing: error))")
        #expect(context.stats.counts.retries == 2, "restarted twice before giving up")
        #expect(sink.batches.isEmpty, "a record sent before any checkpoint was loaded")
    }

    @Test func aHangingPluginIsKilledAfterItsTimeout() async throws {
        let dir = try Self.temporaryDirectory()
        let marker = "hang-\(UUID().uuidString.prefix(8))"
        let started = Date()
        let error = await #expect(throws: ConnectorError.self) {
            try await Self.engine(Self.source(["hang", marker], timeout: 1), CollectingSink(), dir: dir).runOnce(context: Self.context())
        }
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(error?.code == .notConnected)
        #expect(error?.description.contains("sent nothing for 1 s; it was killed") == true, "\(String(describing: error))")
        #expect(error?.description.contains("waiting for a lock that never comes") == true, "\(String(describing: error))")
        #expect(Self.processes(with: marker).isEmpty, "the hung plugin is still running")
    }

    @Test func aGarbagePrintingPluginIsKilledAndItsLineQuoted() async throws {
        let dir = try Self.temporaryDirectory()
        let marker = "garbage-\(UUID().uuidString.prefix(8))"
        let error = await #expect(throws: ConnectorError.self) {
            try await Self.engine(Self.source(["garbage", marker]), CollectingSink(), dir: dir).runOnce(context: Self.context())
        }
        #expect(error?.code == .invalidData)
        #expect(error?.description.contains("line 2 of its output is not a protocol message: Traceback (most recent call last):") == true, "\(String(describing: error))")
        #expect(error?.description.contains("File \"reader.py\", line 12") == true, "\(String(describing: error))")
        try await Task.sleep(for: .milliseconds(200))
        #expect(Self.processes(with: marker).isEmpty, "the plugin is still running")
    }

    @Test func aReportedErrorFailsTheRunWithItsMessage() async throws {
        let dir = try Self.temporaryDirectory()
        let error = await #expect(throws: ConnectorError.self) {
            try await Self.engine(Self.source(["error"]), CollectingSink(), dir: dir).runOnce(context: Self.context())
        }
        #expect(error?.code == .other)
        #expect(error?.description.contains("reported: table events does not exist") == true, "\(String(describing: error))")
    }

    @Test func aRecordThatDoesNotFitGoesToTheDeadLettersAndTheOthersLoad() async throws {
        let dir = try Self.temporaryDirectory()
        let sink = CollectingSink()
        try await Self.engine(Self.source(["bad-records"]), sink, dir: dir).runOnce(context: Self.context())
        #expect(sink.batches.flatMap { b in (0..<b.count).map { b.value(row: $0, column: 0) } } == [.int(1), .int(3)])
        let letters = try String(contentsOfFile: dir + "/dead-letters.jsonl", encoding: .utf8)
        #expect(letters.contains(#""reason":"column 'id': a string, not int64""#), "\(letters)")
        #expect(letters.contains(#""line":3"#), "\(letters)")
        #expect(letters.contains(#"\"id\": \"two\""#), "\(letters)")
    }
}
