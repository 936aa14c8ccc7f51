import ConnectorKit
import ConnectorKitTesting
@testable import CoreConnectors
import Testing

/// The eight-bytes-at-a-time searches against a byte-by-byte reading of the same buffers: every
/// length around the word size, every position of the byte looked for, and the bytes a borrow
/// or carry between bytes would confuse with it (the value ± 1, 0x80, 0xFF, NUL).
@Suite struct ByteSearchTests {
    static let tricky: [UInt8] = [0x00, 0x01, 0x09, 0x0A, 0x0B, 0x2B, 0x2C, 0x2D, 0x3A, 0x3B, 0x3C, 0x7F, 0x80, 0x81, 0xFE, 0xFF]

    static func buffers(seed: UInt64) -> [[UInt8]] {
        var state = seed
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        var out: [[UInt8]] = []
        for length in 0...40 {
            for _ in 0..<60 {
                out.append((0..<length).map { _ in next() % 3 == 0 ? tricky[Int(next() % UInt64(tricky.count))] : UInt8(0x41 + next() % 26) })
            }
        }
        return out
    }

    @Test func firstIndexOfEitherByteMatchesAPlainSearch() {
        var checked = 0
        for bytes in Self.buffers(seed: 3) {
            bytes.withUnsafeBufferPointer { buf in
                for (a, b) in [(UInt8(0x2C), UInt8(0x0A)), (0x3B, 0x0A), (0x09, 0x0A), (0x00, 0x80)] {
                    for from in 0...buf.count {
                        let expected = (from..<buf.count).first { buf[$0] == a || buf[$0] == b } ?? buf.count
                        let found = ByteSearch.firstIndex(of: a, or: b, in: buf, from: from)
                        #expect(found == expected, "\(Array(buf)) from \(from), looking for \(a) or \(b)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 100_000)
    }

    @Test func nulAndHighBytesMatchAPlainScan() {
        for bytes in Self.buffers(seed: 4) {
            let found = bytes.withUnsafeBufferPointer { ByteSearch.nulAndHighBytes($0) }
            #expect(found.nul == bytes.contains(0) && found.high == bytes.contains { $0 >= 0x80 }, "\(bytes)")
        }
    }

    @Test func csvRecordsSplitTheSameWhereverTheWordsBoundariesFall() throws {
        // Fields of every length from 0 to 19 put the delimiters and line ends at every offset
        // within an eight-byte word.
        var text = "a,b,c\n"
        var expected: [[String]] = []
        for k in 0..<60 {
            let row = [String(repeating: "x", count: k % 20), String(repeating: "y", count: (k * 7) % 13), "z\(k)"]
            expected.append(row)
            text += row.joined(separator: ",") + (k % 3 == 0 ? "\r\n" : "\n")
        }
        let out = try DecoderVerifier.verify(CSVDecoder(CSVConfiguration()), Array(text.utf8))
        #expect(out.rows == expected)
        #expect(out.deadLetters.isEmpty && out.consumed == text.utf8.count)
    }
}
