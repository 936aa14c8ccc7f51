import ConnectorKit
import ConnectorKitTesting
import Logging
import MetricsTestKit
import Testing
import TestSupport

/// The cumulative per-pipeline counters follow what the engine does, run after run.
@Suite(.blockingWork) struct PipelineMetricsTests {
    @Test func countersAddUpAcrossRunsWithThePipelineAsDimension() async throws {
        let metrics = TestMetrics()
        let fs = InMemoryFileSystem()
        let sink = CollectingSink()
        let store = InMemoryCheckpointStore()
        let source = TailingSource(fileSystem: fs, options: TailerOptions(glob: Glob("**/*.log")))
        let engine = PipelineEngine(pipeline: Pipeline(name: "press", source: source, decoder: LinesDecoder(), transforms: [], sink: sink,
                                                       deadLetterPath: "/tmp/sluice-test-metrics-\(UInt32.random(in: 0...UInt32.max)).jsonl"),
                                    checkpointStore: store)
        func run() async throws -> RunStats.Counts {
            let stats = RunStats(metrics: PipelineMetrics(pipeline: "press", factory: metrics))
            let context = RunContext(pipeline: "press", logger: Logger(label: "t"), stats: stats)
            try await engine.runOnce(context: context)
            return stats.counts
        }
        fs.put("a.log", Array("one\ntwo\n".utf8))
        let first = try await run()
        fs.append("a.log", Array("three\n".utf8))
        fs.put("b.log", Array("four\n".utf8))
        let second = try await run()
        let press = [("pipeline", "press")]
        func total(_ label: String) -> Int64 { metrics.counterTotal(label: label, dimensions: press) }
        #expect(total("sluice_records_written_total") == first.recordsWritten + second.recordsWritten)
        #expect(total("sluice_records_written_total") == 4)
        #expect(total("sluice_bytes_read_total") == 8 + 6 + 5)
        #expect(total("sluice_commits_total") == Int64(first.commits + second.commits))
        #expect(total("sluice_commits_total") >= 2)
        #expect(total("sluice_files_opened_total") == Int64(first.filesOpened + second.filesOpened))
        #expect(total("sluice_dead_letters_total") == 0)
        #expect(metrics.counterTotal(label: "sluice_records_written_total", dimensions: [("pipeline", "other")]) == 0)
    }
}
