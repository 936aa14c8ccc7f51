import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
import Foundation
import Testing

@Suite struct JSONLSinkTests {
    func tempPath(_ name: String) -> String { NSTemporaryDirectory() + "sluice-jsonl-\(UUID().uuidString.prefix(8))/\(name)" }

    @Test func replayAfterCrashNeitherLosesNorDuplicates() async throws {
        let path = tempPath("out.jsonl")
        let store = LocalCheckpointStore(stateDirectory: (path as NSString).deletingLastPathComponent, pipeline: "p")
        let batch = RecordBatch(schema: Schema([Field("x", .int64), Field("s", .string)]),
                                columns: [Column(.int64([1, 2, 3])), Column(.string(StringColumn(["a", "b\"q", "ü"])))],
                                origins: RecordOrigins(file: "f", lines: [1, 2, 3], byteOffsets: [0, 1, 2]))
        try await SinkConformance.checkReplay(makeSink: { JSONLSink(path: path) }, store: store, batch: batch,
                                              countRows: { (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n").count ?? 0 })
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == "{\"x\":1,\"s\":\"a\"}\n{\"x\":2,\"s\":\"b\\\"q\"}\n{\"x\":3,\"s\":\"ü\"}\n")
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
