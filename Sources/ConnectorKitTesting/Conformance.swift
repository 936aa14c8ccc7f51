import ConnectorKit
import Foundation
import Logging

/// Checks a decoder the way the engine drives it: the same records, dead letters and consumed
/// byte count whether the input arrives in one piece, byte by byte, or in random chunks.
public enum DecoderVerifier {
    public struct Output: Equatable, Sendable {
        public var names: [String]
        public var rows: [[String]]
        public var lines: [Int64]
        public var offsets: [Int64]
        /// Each record's raw bytes.
        public var raw: [[UInt8]]
        public var deadLetters: [DeadLetter]
        public var consumed: Int
    }

    /// Decodes `input` fed in the given chunk sizes (cycled); `atEnd` marks the final input.
    /// With `keepInput`, fields may point into the input (as in the engine); without, the
    /// decoder copies them.
    public static func decode(_ decoder: any RecordDecoder, _ input: [UInt8], chunks: [Int], atEnd: Bool = false, maxRows: Int = 3, keepInput: Bool = true) throws -> Output {
        var session = try decoder.makeSession(file: "test", state: nil)
        var carry: [UInt8] = []
        var offset: Int64 = 0
        var line: Int64 = 1
        var out = Output(names: [], rows: [], lines: [], offsets: [], raw: [], deadLetters: [], consumed: 0)
        var fed = 0
        var k = 0
        var overfull: String?
        func drain(final: Bool) {
            var decoded = DecodedRecords()
            while true {
                // The kept buffer starts with bytes that are not the input, as the engine's does
                // after its first decode call: positions must be shifted by `inputIndex`.
                let kept = keepInput ? [UInt8](repeating: UInt8(ascii: "#"), count: 5) + carry : carry
                let start = kept.count - carry.count
                let (consumed, lines) = kept.withUnsafeBytes { buf in
                    session.decode(UnsafeRawBufferPointer(rebasing: buf[start...]),
                                   context: DecodeContext(file: "test", offset: offset, line: line, atEnd: final, maxRows: maxRows - decoded.count,
                                                          inputIndex: keepInput ? start : nil), output: &decoded)
                }
                if decoded.count > maxRows && overfull == nil {
                    overfull = "a decode call left \(decoded.count) records in the batch, more than maxRows (\(maxRows))"
                }
                let full = decoded.count >= maxRows
                if decoded.count > 0 {
                    // Taken before the input changes: the batch may point into it.
                    let b = decoded.takeTextBatch(file: "test", input: kept).recordBatch()
                    if out.names.isEmpty { out.names = b.schema.names }
                    for r in 0..<b.count { out.rows.append((0..<b.schema.count).map { b.value(row: r, column: $0).description }) }
                    out.lines += b.origins.lines
                    out.offsets += b.origins.byteOffsets
                    out.raw += (0..<b.count).map { b.origins.rawBytes($0) }
                }
                carry.removeFirst(consumed)
                offset += Int64(consumed)
                line += lines
                out.deadLetters += decoded.takeDeadLetters()
                if !full && (consumed == 0 || carry.isEmpty) { break }
            }
        }
        while fed < input.count {
            let size = max(1, chunks[k % chunks.count])
            k += 1
            let piece = input[fed..<min(input.count, fed + size)]
            fed += piece.count
            carry += piece
            drain(final: false)
        }
        if atEnd { drain(final: true) }
        if let overfull { throw VerificationFailure(message: overfull) }
        out.consumed = Int(offset)
        return out
    }

    /// Throws a description of the first difference between one-piece and chunked decoding.
    public static func verify(_ decoder: any RecordDecoder, _ input: [UInt8], atEnd: Bool = false, seed: UInt64 = 1) throws -> Output {
        let whole = try decode(decoder, input, chunks: [max(1, input.count)], atEnd: atEnd)
        var rng = seed
        let randomChunks = (0..<64).map { _ -> Int in
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(rng >> 59) + 1
        }
        for chunks in [[1], [2], [3], [7], randomChunks] {
            for keepInput in [true, false] {
                let other = try decode(decoder, input, chunks: chunks, atEnd: atEnd, keepInput: keepInput)
                if other != whole {
                    throw VerificationFailure(message: "decoding in chunks of \(chunks.prefix(5)) (input kept: \(keepInput)) differs from one piece:\n one piece: \(whole)\n chunked:   \(other)")
                }
            }
        }
        return whole
    }

    public struct VerificationFailure: Error, CustomStringConvertible { public var message: String; public var description: String { message } }
}

/// Checks a file source through the engine: a second run reads nothing new; appended bytes alone
/// are read next time.
public enum SourceConformance {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public static func checkResume(source: any Source, decoder: any RecordDecoder, append: () async throws -> Void, expectFirst: Int, expectAppended: Int) async throws {
        let sink = CollectingSink()
        let store = InMemoryCheckpointStore()
        let deadLetters = NSTemporaryDirectory() + "sluice-conformance-\(UInt64.random(in: 0...UInt64.max)).jsonl"
        defer { try? FileManager.default.removeItem(atPath: deadLetters) }
        let pipeline = Pipeline(name: "conformance", source: source, decoder: decoder, transforms: [], sink: sink, deadLetterPath: deadLetters)
        let engine = PipelineEngine(pipeline: pipeline, checkpointStore: store)
        let logger = Logger(label: "conformance")
        try await engine.runOnce(context: RunContext(pipeline: "conformance", logger: logger))
        let first = sink.rows.count
        guard first == expectFirst else { throw Failure(description: "first run loaded \(first) records, expected \(expectFirst)") }
        try await engine.runOnce(context: RunContext(pipeline: "conformance", logger: logger))
        guard sink.rows.count == first else { throw Failure(description: "a second run without changes loaded \(sink.rows.count - first) records again") }
        try await append()
        try await engine.runOnce(context: RunContext(pipeline: "conformance", logger: logger))
        guard sink.rows.count - first == expectAppended else {
            throw Failure(description: "after appending, the run loaded \(sink.rows.count - first) records, expected \(expectAppended)")
        }
    }
}
