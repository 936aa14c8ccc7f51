import ConnectorKit
import ConnectorKitTesting
@testable import CoreConnectors
import Testing
import TestSupport

/// The word-at-a-time and 64-byte-window searches against a byte-by-byte reading of the same buffers: every
/// length around the word size, every position of the byte looked for, and the bytes a borrow
/// or carry between bytes would confuse with it (the value ± 1, 0x80, 0xFF, NUL).
@Suite(.blockingWork) struct ByteSearchTests {
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

    /// The CSV scanner's 64-byte window finds the delimiter or line feed a byte-by-byte search
    /// finds, called field after field as the scanner does (and from positions before, inside
    /// and after its window), and its quote bits are the quotes of the window's bytes.
    @Test func csvWindowMatchesAPlainSearch() {
        var checked = 0, quoteBits = 0
        var state: UInt64 = 11
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        for length in [0, 1, 63, 64, 65, 100, 127, 128, 129, 300] {
            for _ in 0..<20 {
                let bytes: [UInt8] = (0..<length).map { _ in next() % 4 == 0 ? Self.tricky[next() % Self.tricky.count] : UInt8(0x41 + next() % 26) }
                bytes.withUnsafeBufferPointer { buf in
                    for (delimiter, quote) in [(UInt8(0x2C), UInt8(0x22)), (0x3B, 0x27), (0x00, 0x80), (0xFF, 0x7F), (0x80, 0x00)] {
                        var window = CSVWindow(delimiter: delimiter, quote: quote)
                        var from = 0
                        while from <= buf.count {
                            let expected = (from..<buf.count).first { buf[$0] == delimiter || buf[$0] == 0x0A } ?? buf.count
                            let found = window.firstEnd(in: buf, from: from)
                            #expect(found == expected, "\(Array(buf)) from \(from), looking for \(delimiter) or a line feed")
                            checked += 1
                            if window.base >= 0 {
                                for k in 0..<64 {
                                    #expect((window.quotes >> UInt64(k)) & 1 == (buf[window.base + k] == quote ? 1 : 0), "quote bit \(k) of the window at \(window.base)")
                                    #expect((window.ends >> UInt64(k)) & 1 == (buf[window.base + k] == delimiter || buf[window.base + k] == 0x0A ? 1 : 0))
                                    quoteBits += buf[window.base + k] == quote ? 1 : 0
                                }
                            }
                            // Mostly on to the next field; sometimes back or far ahead (a quoted field).
                            switch next() % 8 {
                            case 0: from = max(0, from - next() % 80)
                            case 1: from += next() % 150
                            default: from = found + 1
                            }
                        }
                    }
                }
            }
        }
        #expect(checked > 3_000 && quoteBits > 100)
    }

    @Test func nulAndHighBytesMatchAPlainScan() {
        for bytes in Self.buffers(seed: 4) {
            let found = bytes.withUnsafeBufferPointer { ByteSearch.nulAndHighBytes($0) }
            #expect(found.nul == bytes.contains(0) && found.high == bytes.contains { $0 >= 0x80 }, "\(bytes)")
        }
    }

    /// The block check's ASCII run (64 bytes at a time) ends at the first NUL or high byte, at
    /// every position in and around the 64-byte chunks; 0x01 and 0x7F do not end it.
    @Test func plainASCIIPrefixEndsAtTheFirstNULOrHighByte() {
        var checked = 0
        for length in [0, 1, 7, 8, 63, 64, 65, 127, 128, 129, 200] {
            for position in 0..<max(length, 1) {
                for byte: UInt8 in [0x00, 0x80, 0xFF, 0xC3, 0x01, 0x7F] {
                    var bytes = (0..<length).map { UInt8(0x20 + $0 % 90) }
                    if position < length { bytes[position] = byte }
                    let expected = bytes.firstIndex { $0 == 0 || $0 >= 0x80 } ?? length
                    let found = bytes.withUnsafeBufferPointer { ByteSearch.plainASCIIPrefix($0) }
                    #expect(found == expected, "length \(length), 0x\(String(byte, radix: 16)) at \(position)")
                    checked += 1
                }
            }
        }
        #expect(checked > 3_000)
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

    /// The UTF-8 check (32 and 8 ASCII bytes at a time between multi-byte characters) finds the
    /// same first bad byte as the standard library's decoder, in buffers of ASCII runs of every
    /// length mixed with valid, truncated, overlong and surrogate sequences.
    @Test func utf8ValidationFindsWhatTheStandardLibraryFinds() {
        func reference(_ b: [UInt8]) -> Int? {
            var parser = Unicode.UTF8.ForwardParser()
            var iterator = b.makeIterator()
            var at = 0
            while true {
                switch parser.parseScalar(from: &iterator) {
                case let .valid(scalar): at += scalar.count
                case .emptyInput: return nil
                case .error: return at
                }
            }
        }
        let pieces: [[UInt8]] = [[0xC3, 0xA7], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xC3], [0xE2, 0x82], [0xC0, 0xAF],
                                 [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xFF], [0xE0, 0x80, 0x80]]
        var rng: UInt64 = 7
        var checked = 0, invalid = 0
        for asciiRun in 0...70 {
            for piece in pieces {
                for tail in [0, 1, 9, 33] {
                    rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    let ascii = (0..<asciiRun).map { UInt8(0x20 + ($0 &+ Int(rng >> 60)) % 90) }
                    let valid = pieces[Int(rng >> 61) % 3]
                    let buffer = ascii + valid + ascii.prefix(tail % (asciiRun + 1)) + piece + Array(repeating: UInt8(ascii: "a"), count: tail)
                    let found = buffer.withUnsafeBufferPointer { TextCodec.firstInvalidUTF8($0) }
                    #expect(found == reference(buffer), "\(buffer)")
                    checked += 1
                    if found != nil { invalid += 1 }
                }
            }
        }
        #expect(invalid > checked / 2 && invalid < checked)
    }
}
