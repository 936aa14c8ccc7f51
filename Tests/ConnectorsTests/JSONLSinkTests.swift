import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
@testable import CoreConnectors
import Foundation
import Testing
import TestSupport

@Suite(.blockingWork) struct JSONLSinkTests {
    func tempPath(_ name: String) -> String {
        let dir = TestCleanup.removeAtExit(NSTemporaryDirectory() + "sluice-jsonl-\(UUID().uuidString.prefix(8))")
        return "\(dir)/\(name)"
    }

    /// The JSON-lines file read back as conformance rows: every column, in the load's order.
    static func readBack(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return try data.split(separator: 0x0A).map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            return SinkConformance.schema.fields.map { f -> String in
                switch object[f.name] {
                case nil, is NSNull: return "null"
                case let s as String: return s
                case let n as NSNumber where f.type == .bool: return n.boolValue ? "true" : "false"
                case let n as NSNumber where f.type == .float64: return "\(n.doubleValue)"
                case let n as NSNumber:
                    // Decimals are written as JSON numbers; keep their text exactly.
                    if case .decimal = f.type { return decimalText(line, key: f.name) }
                    return "\(n.int64Value)"
                default: return "?"
                }
            }.joined(separator: "|")
        }
    }

    /// A number's text as written (JSONSerialization would round decimals through Double).
    static func decimalText(_ line: Data.SubSequence, key: String) -> String {
        let text = String(decoding: line, as: UTF8.self)
        guard let r = text.range(of: "\"\(key)\":") else { return "?" }
        return String(text[r.upperBound...].prefix { $0 == "-" || $0 == "." || $0.isNumber })
    }

    func target(_ dir: String, broken: Bool = false) -> SinkConformance.Target {
        let path = "\(dir)/out.jsonl"
        let pipeline = "jsonl-conformance-\(UUID().uuidString.prefix(8))"
        return SinkConformance.Target(
            pipeline: pipeline,
            makeSink: { broken ? BrokenSink(JSONLSink(path: path), fault: .keepsUncommittedOutput) as any Sink : JSONLSink(path: path) },
            store: LocalCheckpointStore(stateDirectory: "\(dir)/state", pipeline: pipeline),
            readBack: { try Self.readBack(path) })
    }

    func childArguments(_ dir: String, _ target: SinkConformance.Target, broken: Bool) -> (Int, Int) -> [String] {
        { committed, uncommitted in
            ["jsonl", target.pipeline, "\(dir)/state", "\(dir)/out.jsonl"] + (broken ? ["--no-truncate"] : []) + ["\(committed)", "\(uncommitted)"]
        }
    }

    @Test func conformanceKilledBetweenWriteAndCommit() async throws {
        let dir = tempPath("kill")
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let t = target(dir)
        let args = childArguments(dir, t, broken: false)
        try await SinkConformance.checkKill(t) { try ConformanceChild.spawn(args($0, $1)) }
    }

    @Test func conformanceUnrecordedCommit() async throws {
        try await SinkConformance.checkUnrecordedCommit(target(tempPath("unrecorded")))
    }

    /// The check can fail: a sink that keeps what was written after its last commit is caught.
    @Test func conformanceCatchesASinkThatKeepsUncommittedOutput() async throws {
        let dir = tempPath("broken")
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let t = target(dir, broken: true)
        let args = childArguments(dir, t, broken: true)
        await #expect(throws: SinkConformance.Failure.self) {
            try await SinkConformance.checkKill(t) { try ConformanceChild.spawn(args($0, $1)) }
        }
    }

    @Test func typesAndNullsAsJSON() async throws {
        let batch = RecordBatch(
            schema: Schema([Field("b", .bool), Field("d", .decimal(precision: 10, scale: 2)), Field("f", .float64),
                            Field("day", .date), Field("t", .timestamp), Field("n", .int32)]),
            columns: [Column(.bool([true])), Column(.decimal([-12345])), Column(.float64([.nan])),
                      Column(.date([20089])), Column(.timestamp([1_735_700_400_000_001])), Column(.int32([0]), validity: [false])],
            origins: RecordOrigins(file: "f", lines: [1], byteOffsets: [0]))
        var out: [UInt8] = []
        JSONLSink.encode(batch, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "{\"b\":true,\"d\":-123.45,\"f\":null,\"day\":\"2025-01-01\",\"t\":\"2025-01-01T03:00:00.000001Z\",\"n\":null}\n")
    }

    @Test func deadLetterFileIsCutBackToItsCommittedLength() throws {
        let path = tempPath("dead.jsonl")
        let letter = DeadLetter(origin: RecordOrigin(file: "a.csv", line: 7, byteOffset: 120), stage: "csv", reason: "bad",
                                raw: [0x4A, 0x6F, 0x73, 0xE9], rawEncoding: "windows-1252")
        let w = try DeadLetterWriter(path: path, pipeline: "p", committedLength: nil)
        try w.append([letter], at: 0)
        let committed = try w.sync()
        try w.append([letter, letter], at: 0)
        _ = try w.sync() // written, but the checkpoint never recorded it: a crash
        _ = try DeadLetterWriter(path: path, pipeline: "p", committedLength: committed)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines[0].contains("\"file\":\"a.csv\",\"line\":7,\"byte_offset\":120,\"stage\":\"csv\",\"reason\":\"bad\",\"raw\":\"José\""))
    }
}
