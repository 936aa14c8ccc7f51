@testable import ConnectorKit
import ConnectorKitTesting
import Logging
import Testing
import TestSupport

@Suite(.blockingWork) struct GlobTests {
    @Test func matchesSegments() {
        #expect(Glob("*.csv").matches("a.csv"))
        #expect(!Glob("*.csv").matches("dir/a.csv"))
        #expect(Glob("*.csv", recursive: true).matches("dir/sub/a.csv"))
        #expect(Glob("**/*.txt").matches("a.txt"))
        #expect(Glob("**/*.txt").matches("x/y/a.txt"))
        #expect(Glob("*/log.txt").matches("press-01/log.txt"))
        #expect(!Glob("*/log.txt").matches("log.txt"))
        #expect(Glob("press-0[1-3]/*.{txt,csv}").matches("press-02/a.csv"))
        #expect(!Glob("press-0[1-3]/*.{txt,csv}").matches("press-04/a.csv"))
        #expect(Glob("data?.csv").matches("data1.csv"))
    }

    @Test func prunesDirectories() {
        #expect(Glob("*/log.txt").mayMatchBelow("press-01"))
        #expect(!Glob("*/log.txt").mayMatchBelow("press-01/deeper"))
        #expect(!Glob("*.csv").mayMatchBelow("sub"))
        #expect(Glob("**/*.csv").mayMatchBelow("a/b/c"))
        #expect(!Glob("logs/*.csv").mayMatchBelow("other"))
    }
}

@Suite(.blockingWork) struct CRCTests {
    @Test func knownValue() {
        #expect(CRC32(Array("123456789".utf8)).value == 0xCBF4_3926)
        var c = CRC32()
        c.update(Array("12345".utf8))
        var d = CRC32(resuming: c.value)
        d.update(Array("6789".utf8))
        #expect(d.value == 0xCBF4_3926)
    }

    /// The table-driven CRC against the bit-by-bit definition, at every alignment and tail length.
    @Test func matchesTheBitwiseDefinition() {
        func bitwise(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return ~c
        }
        var state: UInt64 = 42
        let data = (0..<4096).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        for start in 0..<9 {
            for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4000] where start + length <= data.count {
                let slice = data[start..<(start + length)]
                #expect(CRC32(slice).value == bitwise(slice), "start \(start), length \(length)")
            }
        }
    }
}

@Suite(.blockingWork) struct QueueTests {
    @Test func keepsOrderUnderBackPressure() async throws {
        let q = BoundedQueue<Int>(capacity: 2)
        let producer = Task {
            for i in 0..<1000 { try await q.send(i) }
            q.finish()
        }
        var got: [Int] = []
        while let v = try await q.next() { got.append(v) }
        try await producer.value
        #expect(got == Array(0..<1000))
    }

    @Test func failureReachesBothEnds() async throws {
        struct Boom: Error {}
        let q = BoundedQueue<Int>(capacity: 1)
        try await q.send(1)
        q.fail(Boom())
        await #expect(throws: Boom.self) { try await q.send(2) }
        await #expect(throws: Boom.self) { _ = try await q.next() }
    }
}

@Suite(.blockingWork) struct ConfigDecodingTests {
    struct Sample: Decodable { var path: String; var glob: String?; var settle: ConfigDuration? }

    func node(_ entries: [(String, ConfigNode.Value, Int)]) -> ConfigNode {
        ConfigNode(.table(entries.map { ($0.0, ConfigNode($0.1, line: $0.2, path: ["source", $0.0])) }), line: 1, path: ["source"])
    }

    @Test func unknownKeyHasSuggestionAndLine() throws {
        let n = node([("path", .string("/x"), 2), ("glop", .string("*.csv"), 3)])
        #expect(throws: ConfigError(file: "p.toml", line: 3, keyPath: "source.glop", message: "unknown key 'glop'; did you mean 'glob'?")) {
            try ConfigDecoding(file: "p.toml").decode(Sample.self, from: n)
        }
    }

    @Test func wrongTypeNamesKeyAndLine() {
        let n = node([("path", .integer(5), 4)])
        do {
            _ = try ConfigDecoding(file: "p.toml").decode(Sample.self, from: n)
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 4)
            #expect(error.keyPath == "source.path")
            #expect(error.message.contains("expected a string, found an integer"))
        }
    }

    @Test func missingKey() {
        let n = node([("glob", .string("*"), 2)])
        do {
            _ = try ConfigDecoding(file: "p.toml").decode(Sample.self, from: n)
            Issue.record("expected an error")
        } catch {
            #expect(error.keyPath == "source.path")
            #expect(error.message == "missing required key 'path'")
        }
    }

    @Test func durations() {
        #expect(ConfigDuration(parsing: "500ms")?.seconds == 0.5)
        #expect(ConfigDuration(parsing: "5m")?.seconds == 300)
        #expect(ConfigDuration(parsing: "2h")?.seconds == 7200)
        #expect(ConfigDuration(parsing: "soon") == nil)
    }

    @Test func environmentExpansion() throws {
        #expect(try EnvironmentExpansion.expand("a${X}b", environment: ["X": "1"]) == "a1b")
        #expect(try EnvironmentExpansion.expand("$${X}", environment: [:]) == "${X}")
        #expect(throws: EnvironmentExpansion.MissingVariable.self) { try EnvironmentExpansion.expand("${NOPE}", environment: [:]) }
    }
}

@Suite(.blockingWork) struct CivilDateTests {
    @Test func roundTrips() {
        for d in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, day) = CivilDate.civil(days: d)
            #expect(CivilDate.days(year: y, month: m, day: day) == d)
        }
        #expect(CivilDate.days(year: 1970, month: 1, day: 1) == 0)
        // The month-start table agrees with the formula on every day it covers, and at its edges.
        for d in CivilDate.days(year: 1799, month: 12, day: 1)...CivilDate.days(year: 2300, month: 1, day: 31) {
            let (y, m, day) = CivilDate.civil(days: d)
            if CivilDate.days(year: y, month: m, day: day) != CivilDate.daysByFormula(year: y, month: m, day: day) {
                Issue.record("table and formula differ at \(y)-\(m)-\(day)")
                break
            }
        }
        #expect(CivilDate.formatTimestamp(micros: 1_700_000_000_123_456) == "2023-11-14T22:13:20.123456Z")
    }

    /// A time before 1970 lies on its own day, not the next one: truncating division would put
    /// 1969-12-31 23:59:59.999999 on 1970-01-01, in the wrong partition.
    @Test func dayOfMicrosRoundsDown() {
        let day = CivilDate.microsPerDay
        #expect(CivilDate.day(ofMicros: 0) == 0)
        #expect(CivilDate.day(ofMicros: day - 1) == 0)
        #expect(CivilDate.day(ofMicros: day) == 1)
        #expect(CivilDate.day(ofMicros: -1) == -1)
        #expect(CivilDate.day(ofMicros: -day) == -1)
        #expect(CivilDate.day(ofMicros: -day - 1) == -2)
        #expect(CivilDate.formatTimestamp(micros: -1) == "1969-12-31T23:59:59.999999Z")
        #expect(CivilDate.formatTimestamp(micros: -day) == "1969-12-31T00:00:00.000000Z")
        for micros in stride(from: -3 * day - 7, through: 3 * day + 7, by: 997_003_001) {
            let d = CivilDate.day(ofMicros: micros)
            #expect(d * day <= micros && micros < (d + 1) * day, "\(micros) → \(d)")
        }
    }
}

@Suite(.blockingWork) struct EngineTests {
    @Test func inMemorySourceReplaysNothingAfterCommit() async throws {
        let batch = RecordBatch(schema: Schema([Field("x", .int64)]), columns: [Column(.int64([1, 2, 3]))],
                                origins: RecordOrigins(file: "m", lines: [1, 2, 3], byteOffsets: [0, 1, 2]))
        let sink = CollectingSink()
        let pipeline = Pipeline(name: "t", source: InMemorySource(batches: [batch, batch]), decoder: nil, transforms: [], sink: sink,
                                deadLetterPath: TestCleanup.removeAtExit("/tmp/sluice-test-engine-\(UInt32.random(in: 0...UInt32.max)).jsonl"))
        let engine = PipelineEngine(pipeline: pipeline, checkpointStore: InMemoryCheckpointStore())
        try await engine.runOnce(context: RunContext(pipeline: "t", logger: Logger(label: "t")))
        try await engine.runOnce(context: RunContext(pipeline: "t", logger: Logger(label: "t")))
        #expect(sink.rows.count == 6)
        #expect(sink.checkpoint.files["memory"]?.offset == 2)
    }
}
