import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
import Foundation
import Logging
import Parquet
import Testing
import TestSupport

@Suite(.blockingWork) struct ParquetSinkTests {
    func tempDir(_ name: String) -> String {
        TestCleanup.removeAtExit(NSTemporaryDirectory() + "sluice-parquet-\(name)-\(UUID().uuidString.prefix(8))")
    }

    /// Every final file under `root` (what a Hive-partitioned reader would see).
    static func finalFiles(_ root: String) -> [String] {
        let names = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        return names.filter { ($0 as NSString).lastPathComponent.hasPrefix("part-") && $0.hasSuffix(".parquet") }.sorted().map { root + "/" + $0 }
    }

    /// The rows of every final file, as the conformance suite renders them.
    static func readBack(_ root: String) throws -> [String] {
        try finalFiles(root).flatMap { path -> [String] in
            let reader = try ParquetFileReader(path: path)
            return try (0..<reader.rowGroupCount).flatMap { g -> [String] in
                let batch = try reader.readBatch(g)
                return (0..<batch.count).map { SinkConformance.canonical(batch, row: $0) }
            }
        }
    }

    func target(_ dir: String, partitionBy: String? = "day", broken: Bool = false) -> SinkConformance.Target {
        let root = "\(dir)/lake/t"
        let pipeline = "parquet-conformance-\(UUID().uuidString.prefix(8))"
        var c = ParquetConfiguration(path: "\(dir)/lake")
        c.partitionBy = partitionBy
        let configuration = c
        return SinkConformance.Target(
            pipeline: pipeline,
            makeSink: {
                let sink = try ParquetSink(configuration: configuration, root: root, logger: Logger(label: "test"))
                return broken ? BrokenSink(sink, fault: .ignoresCommittedSequence) as any Sink : sink
            },
            store: LocalCheckpointStore(stateDirectory: "\(dir)/state", pipeline: pipeline),
            readBack: { try Self.readBack(root) })
    }

    func childArguments(_ dir: String, _ target: SinkConformance.Target, partitionBy: String = "day", broken: Bool = false) -> (Int, Int) -> [String] {
        { committed, uncommitted in
            ["parquet", target.pipeline, "\(dir)/state", "\(dir)/lake/t", partitionBy] + (broken ? ["--broken"] : []) + ["\(committed)", "\(uncommitted)"]
        }
    }

    @Test("conformance: SIGKILL between write and commit, partitioned and not", arguments: ["day", ""])
    func conformanceKilled(partitionBy: String) async throws {
        let dir = tempDir("kill")
        let t = target(dir, partitionBy: partitionBy.isEmpty ? nil : partitionBy)
        let args = childArguments(dir, t, partitionBy: partitionBy)
        try await SinkConformance.checkKill(t) { try ConformanceChild.spawn(args($0, $1)) }
        #expect(!Self.finalFiles("\(dir)/lake/t").isEmpty)
    }

    @Test("conformance: a commit whose checkpoint was never saved is undone on reopen")
    func conformanceUnrecordedCommit() async throws {
        try await SinkConformance.checkUnrecordedCommit(target(tempDir("unrecorded")))
    }

    /// The checks can fail: a Parquet sink that does not delete the files of a lost commit is caught.
    @Test("conformance catches a sink that keeps the files of a lost commit")
    func conformanceCatchesBrokenSink() async throws {
        await #expect(throws: SinkConformance.Failure.self) {
            try await SinkConformance.checkUnrecordedCommit(target(tempDir("broken"), broken: true))
        }
    }

    @Test("conformance: the lake folder vanishes mid-commit (disk unmounted); later commits refused until reopen")
    func conformanceSevered() async throws {
        let dir = tempDir("severed")
        let lake = "\(dir)/lake"
        try await SinkConformance.checkSevered(
            target(dir),
            sever: { try FileManager.default.moveItem(atPath: lake, toPath: lake + ".away") },
            restore: {
                // Writes after the cut made a new, partial lake folder; the real one comes back.
                try? FileManager.default.removeItem(atPath: lake)
                try FileManager.default.moveItem(atPath: lake + ".away", toPath: lake)
            })
    }

    @Test("Hive layout: one folder per UTC day, files named by the commit sequence, sorted when asked, nothing half-written visible")
    func hiveLayout() async throws {
        let dir = tempDir("layout")
        var c = ParquetConfiguration(path: dir)
        c.partitionBy = "at"
        c.sort = true
        c.compression = "snappy"
        let sink = try ParquetSink(configuration: c, root: dir + "/press", logger: Logger(label: "test"))
        let committer = SinkCommitter(sink: sink, store: InMemoryCheckpointStore())
        var checkpoint = try await committer.open(pipeline: "layout")
        var cursor = FileCursor()
        cursor.offset = 700
        checkpoint.files["f"] = cursor
        let day: Int64 = 86_400_000_000
        let base = Int64(CivilDate.days(year: 2026, month: 11, day: 23)) * day
        // Out of order, across three days and a NULL.
        let times: [Int64] = [base + day + 5, base + 3, base - 1, base + 1, base + day + 1, base + 2 * day]
        let batch = RecordBatch(schema: Schema([Field("at", .timestamp), Field("n", .int32)]),
                                columns: [Column(.timestamp(times + [0])), Column(.int32(Array(0..<7)))].enumerated().map { i, col in
                                    i == 0 ? Column(col.values, validity: [true, true, true, true, true, true, false]) : col
                                },
                                origins: RecordOrigins(file: "f", lines: Array(1...7), byteOffsets: Array(0..<7)))
        _ = try await sink.write(batch)
        // Before the commit only hidden temporary files exist.
        #expect(Self.finalFiles(dir + "/press").isEmpty)
        checkpoint = try await committer.commit(checkpoint)
        try await sink.close()
        let files = Self.finalFiles(dir + "/press").map { String($0.dropFirst(dir.count + 7)) }
        #expect(files == ["date=2026-11-22/part-00000001.parquet", "date=2026-11-23/part-00000001.parquet", "date=2026-11-24/part-00000001.parquet",
                          "date=2026-11-25/part-00000001.parquet", "date=__HIVE_DEFAULT_PARTITION__/part-00000001.parquet"])
        let day23 = try ParquetFileReader(path: dir + "/press/date=2026-11-23/part-00000001.parquet")
        #expect(try day23.readRowGroup(0)[0] == Column(.timestamp([base + 1, base + 3])))
        #expect(try day23.readRowGroup(0)[1] == Column(.int32([3, 1])))
        #expect(day23.metadata.rowGroups[0].columns[0].metaData?.codec == .snappy)
        // The footer says which input the file holds.
        #expect(day23.metadata.value(forKey: "sluice.input") == #"{"sequence":1,"files":{"f":{"from":0,"to":700}}}"#)
        #expect(day23.metadata.value(forKey: "sluice.pipeline") == "layout")
        let leftovers = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
        #expect(checkpoint.sinkState["parquet.files"]?.split(separator: "\n").count == 5)
    }

    @Test("a configured sink proposes its commit policy; the pipeline file's commit settings win")
    func commitPolicy() throws {
        var c = ParquetConfiguration(path: "/tmp/x")
        c.fileRows = 250_000
        c.fileInterval = ConfigDuration(seconds: 600)
        let sink = try ParquetSink(configuration: c, root: "/tmp/x/t", logger: Logger(label: "test"))
        #expect(sink.commitPolicy == CommitPolicy(rows: 250_000, seconds: 600))
    }
}
