import ConnectorKit
import ConnectorKitTesting
import Logging
import Testing
import TestSupport

/// A decoder that emits one record per line, for testing the tailer without CSV.
struct LinesDecoder: RecordDecoder {
    struct Session: DecoderSession {
        var state: String? { nil }
        mutating func decode(_ input: UnsafeRawBufferPointer, context: DecodeContext, output: inout DecodedRecords) -> (consumed: Int, lines: Int64) {
            if output.names.isEmpty { output.setNames(["line"]) }
            output.beginInput(index: context.inputIndex, count: input.count)
            let bytes = input.assumingMemoryBound(to: UInt8.self)
            var pos = 0
            var lines: Int64 = 0
            while output.count < context.maxRows, let lf = input[pos...].firstIndex(of: 0x0A) {
                output.appendField(bytes, from: pos, to: lf)
                output.endRecord(line: context.line + lines, byteOffset: context.offset + Int64(pos), raw: bytes, from: pos, to: lf)
                pos = lf + 1
                lines += 1
            }
            if context.atEnd && pos < input.count && output.count < context.maxRows {
                output.appendField(bytes, from: pos, to: input.count)
                output.endRecord(line: context.line + lines, byteOffset: context.offset + Int64(pos), raw: bytes, from: pos, to: input.count)
                pos = input.count
            }
            return (pos, lines)
        }
    }
    func makeSession(file: String, state: String?) throws -> any DecoderSession { Session() }
}

@Suite(.blockingWork) struct TailerTests {
    let fs = InMemoryFileSystem()

    func engine(_ sink: CollectingSink, _ store: InMemoryCheckpointStore, afterLoad: AfterLoad = .keep) -> PipelineEngine {
        let source = TailingSource(fileSystem: fs, options: TailerOptions(glob: Glob("**/*.log"), afterLoad: afterLoad, chunkSize: 7))
        return PipelineEngine(pipeline: Pipeline(name: "t", source: source, decoder: LinesDecoder(), transforms: [], sink: sink,
                                                 deadLetterPath: "/tmp/sluice-test-tailer-\(UInt32.random(in: 0...UInt32.max)).jsonl"),
                              checkpointStore: store)
    }

    func run(_ e: PipelineEngine) async throws -> RunStats.Counts {
        let ctx = RunContext(pipeline: "t", logger: Logger(label: "t"))
        try await e.runOnce(context: ctx)
        return ctx.stats.counts
    }

    func lines(_ sink: CollectingSink) -> [String] { sink.rows.map { $0["line"]!.description } }

    @Test func appendReadsOnlyNewBytes() async throws {
        let sink = CollectingSink(), store = InMemoryCheckpointStore(), e = engine(sink, store)
        fs.put("a.log", Array("one\ntwo\n".utf8))
        _ = try await run(e)
        fs.resetCounters()
        fs.append("a.log", Array("three\n".utf8))
        let c = try await run(e)
        #expect(lines(sink) == ["one", "two", "three"])
        #expect(c.bytesRead == 6)
        // Verification reads (head and window) are the only other traffic.
        #expect(fs.bytesRead == 6 + 8 + 8)
    }

    @Test func rewriteInPlaceWithSameHistoryYieldsOnlyNewLines() async throws {
        let sink = CollectingSink(), store = InMemoryCheckpointStore(), e = engine(sink, store)
        fs.put("m/log.log", Array("h\n1\n2\n".utf8))
        _ = try await run(e)
        fs.put("m/log.log", Array("h\n1\n2\n3\n4\n5\n".utf8)) // whole file written again
        _ = try await run(e)
        #expect(lines(sink) == ["h", "1", "2", "3", "4", "5"])
    }

    @Test func truncatedOrReplacedFileIsReadFromStart() async throws {
        let sink = CollectingSink(), store = InMemoryCheckpointStore(), e = engine(sink, store)
        fs.put("a.log", Array("aaaa\nbbbb\n".utf8))
        _ = try await run(e)
        fs.put("a.log", Array("c\n".utf8)) // truncated: smaller
        var c = try await run(e)
        #expect(c.filesRestarted == 1)
        fs.put("a.log", Array("XXXX\nYYYY\nZZ\n".utf8)) // same length prefix, other content
        c = try await run(e)
        #expect(c.filesRestarted == 1)
        #expect(lines(sink) == ["aaaa", "bbbb", "c", "XXXX", "YYYY", "ZZ"])
    }

    @Test func identicalHeadersAndEmptyFilesStayDistinct() async throws {
        let sink = CollectingSink(), store = InMemoryCheckpointStore(), e = engine(sink, store)
        fs.put("a.log", Array("header\nrow-a\n".utf8))
        fs.put("b.log", Array("header\nrow-b\n".utf8))
        fs.put("e1.log", [])
        fs.put("e2.log", [])
        _ = try await run(e)
        fs.append("e2.log", Array("late\n".utf8))
        _ = try await run(e)
        #expect(lines(sink).sorted() == ["header", "header", "late", "row-a", "row-b"])
    }

    @Test func partialLastLineWaitsForItsEnd() async throws {
        let sink = CollectingSink(), store = InMemoryCheckpointStore(), e = engine(sink, store)
        fs.put("a.log", Array("one\ntw".utf8))
        let c = try await run(e)
        #expect(c.pendingBytes == 2)
        fs.append("a.log", Array("o\n".utf8))
        _ = try await run(e)
        #expect(lines(sink) == ["one", "two"])
    }

    @Test func deleteAfterLoadRemovesFileAndFlushesLastLine() async throws {
        let sink = CollectingSink(), store = InMemoryCheckpointStore(), e = engine(sink, store, afterLoad: .delete)
        fs.put("in/a.log", Array("one\ntwo".utf8))
        _ = try await run(e)
        #expect(fs.contents("in/a.log") == nil)
        #expect(lines(sink) == ["one", "two"])
        #expect(store.checkpoint?.files["in/a.log"] == nil)
    }

    @Test func fileVanishingMidReadKeepsWhatWasRead() async throws {
        let sink = CollectingSink(), store = InMemoryCheckpointStore(), e = engine(sink, store)
        fs.put("a.log", Array("good\n".utf8))
        fs.put("b.log", Array("gone\n".utf8))
        fs.failReads(of: "b.log", with: .notFound)
        _ = try await run(e)
        #expect(lines(sink) == ["good"])
    }

    @Test func unsettledFilesWaitForALaterRun() async throws {
        let sink = CollectingSink(), store = InMemoryCheckpointStore()
        fs.put("old.log", Array("a\n".utf8), modified: 1000)
        fs.put("busy.log", Array("b\n".utf8), modified: 1995)
        let source = TailingSource(fileSystem: fs, options: TailerOptions(glob: Glob("*.log"), settleSeconds: 10), now: { 2000 })
        let e = PipelineEngine(pipeline: Pipeline(name: "t", source: source, decoder: LinesDecoder(), transforms: [], sink: sink,
                                                  deadLetterPath: "/tmp/sluice-test-settle-\(UInt32.random(in: 0...UInt32.max)).jsonl"),
                               checkpointStore: store)
        _ = try await run(e)
        #expect(lines(sink) == ["a"])
    }

    @Test func sourceConformance() async throws {
        fs.put("x/a.log", Array("1\n2\n".utf8))
        let source = TailingSource(fileSystem: fs, options: TailerOptions(glob: Glob("**/*.log")))
        try await SourceConformance.checkResume(source: source, decoder: LinesDecoder(),
                                                append: { fs.append("x/a.log", Array("3\n4\n5\n".utf8)) },
                                                expectFirst: 2, expectAppended: 3)
    }
}

extension InMemoryCheckpointStore {
    var checkpoint: Checkpoint? { try? load() }
}
