@testable import CoreConnectors
import Testing
import TestSupport

/// A layout with a fixed-width part is read at fixed offsets (`TimeFormat.FixedLayout`), and ISO 8601's
/// `yyyy-MM-ddThh:mm:ss` prefix too; each must accept and reject exactly what walking its tokens
/// (or the ISO fields one by one) does, with the same result.
@Suite(.blockingWork) struct TimeFormatFixedLayoutTests {
    static let layouts = [
        "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd HH:mm:ss[.SSS]", "dd/MM/yyyy HH:mm:ss", "dd.MM.yy HH:mm",
        "yyyyMMddHHmmss", "yyyy-MM-dd'T'HH:mm:ss[,S]", "yyyy-MM-dd", "dd/MM/yyyy HH:mm:ssSSS",
        "dd/MM/yyyy[ HH:mm:ss]", "d/M/yyyy H:mm", "yyyy-MM-dd HH:mm:ssXXX",
        // Shorter than eight bytes: read field by field instead of a word at a time.
        "HH:mm", "yyMMdd",
        // Not a pattern: its common prefix is read at fixed offsets, the rest field by field.
        "iso8601",
    ]

    static let samples = [
        "2025-03-30 02:30:15.123", "2025-03-30 02:30:15", "2025-03-30 02:30:15.1234567891", "2025-03-30 02:30:15.",
        "2025-03-30 02:30:15.12a", "30/03/2025 02:30:15", "30.03.25 02:30", "20250330023015", "2025-03-30T02:30:15,5",
        "2025-03-30T02:30:15", "2025-03-30", "30/03/2025 02:30:15123", "30/03/2025", "30/03/2025 02:30", "3/3/2025 2:30",
        "2025-03-30 02:30:15+02:00", "2024-02-29 23:59:59.999", "2023-02-29 00:00:00.000", "2025-13-01 00:00:00.000",
        "2025-12-31 24:00:00.000", "9999-12-31 23:59:60.5", "", " ", "2025-03-30 02:30:15.123 ", "02:30", "250330",
        "2025-03-30T02:30:15Z", "2025-03-30t02:30:15.123456789+01:00", "2025-03-30T02:30Z", "2025-03-30 02:30:15-0530",
        "2025-10-26T02:30:15,5z",
    ]

    /// Every sample, and every sample with each byte changed to a digit, a separator, a letter or
    /// a high byte, cut short by each length, or lengthened.
    static func inputs() -> [[UInt8]] {
        var out: [[UInt8]] = []
        for sample in samples {
            let bytes = Array(sample.utf8)
            out.append(bytes)
            for i in bytes.indices {
                for replacement: UInt8 in [0x30, 0x39, 0x2F, 0x3A, 0x2D, 0x2E, 0x20, 0x41, 0xC3, 0x2F + 1, 0x3A - 1] {
                    var changed = bytes
                    changed[i] = replacement
                    out.append(changed)
                }
                out.append(Array(bytes[..<i]))
            }
            out.append(bytes + [0x35])
            out.append(bytes + [0x2E, 0x35])
        }
        return out
    }

    @Test func fixedOffsetsReadWhatTheTokenWalkReads() throws {
        let inputs = Self.inputs()
        var fastLayouts = 0
        for layout in Self.layouts {
            let format = try TimeFormat(layout)
            if format.fixed != nil { fastLayouts += 1 }
            var accepted = 0
            for input in inputs {
                let (fast, walked) = input.withUnsafeBufferPointer { (format.parse($0), format.parseWalkingTokens($0)) }
                #expect(fast == walked, "\(layout) on '\(String(decoding: input, as: UTF8.self))': \(String(describing: fast)) vs \(String(describing: walked))")
                if walked != nil { accepted += 1 }
            }
            // Each layout reads some inputs and refuses others: the comparison covered both.
            #expect(accepted > 0 && accepted < inputs.count, "\(layout): \(accepted) of \(inputs.count) read")
        }
        // d/M/yyyy H:mm (variable widths), …XXX (an offset at the end) and dd/MM/yyyy[ HH:mm:ss]
        // (an optional time) keep walking tokens; ISO 8601 has no token layout.
        #expect(fastLayouts == Self.layouts.count - 4)
    }

    /// A column's values go through one `HourCache`: a value with the date and hour of the one
    /// before skips the calendar (and for ISO 8601 the head's digits). Whatever came before, each
    /// value must read as the token walk reads it alone: in the order of the inputs (each change
    /// right after the value it changes), and after each sample has primed the cache.
    @Test func theHourCacheNeverChangesWhatAValueReads() throws {
        let inputs = Self.inputs()
        for layout in Self.layouts {
            let format = try TimeFormat(layout)
            var running = TimeFormat.HourCache()
            var hits = 0
            for input in inputs {
                let (cached, walked) = input.withUnsafeBufferPointer { (format.parse($0, cache: &running), format.parseWalkingTokens($0)) }
                #expect(cached == walked, "\(layout) on '\(String(decoding: input, as: UTF8.self))' in sequence: \(String(describing: cached)) vs \(String(describing: walked))")
                if cached != nil { hits += 1 }
            }
            #expect(hits > 0, "\(layout): nothing read")
            for sample in Self.samples {
                var primed = TimeFormat.HourCache()
                guard Array(sample.utf8).withUnsafeBufferPointer({ format.parse($0, cache: &primed) }) != nil else { continue }
                for input in inputs {
                    var cache = primed
                    let (cached, walked) = input.withUnsafeBufferPointer { (format.parse($0, cache: &cache), format.parseWalkingTokens($0)) }
                    #expect(cached == walked, "\(layout) on '\(String(decoding: input, as: UTF8.self))' after '\(sample)': \(String(describing: cached)) vs \(String(describing: walked))")
                }
            }
        }
    }

    /// Rows an hour apart, a day apart, across a month's end and a leap day: each value reads as
    /// alone, so the cache is keyed on the whole date and hour, not just a part of them.
    @Test func valuesAcrossHoursDaysAndMonthsReadAsAlone() throws {
        let values = ["2024-02-28T23:59:59Z", "2024-02-29T23:00:00Z", "2024-02-29T23:30:00Z", "2024-03-29T23:30:00Z",
                      "2024-03-29T22:30:00Z", "2025-03-29T22:30:00Z", "2025-03-29T22:30:00.5+01:00", "2025-03-29T22:31:60Z",
                      "2025-03-29T22:60:00Z", "2025-03-29 22:30:00Z", "2025-03-29T22:30:00"]
        for layout in ["iso8601", "yyyy-MM-dd'T'HH:mm:ss[.S]", "yyyy-MM-dd HH:mm:ss"] {
            let format = try TimeFormat(layout)
            var cache = TimeFormat.HourCache()
            for v in values {
                let (cached, alone) = Array(v.utf8).withUnsafeBufferPointer { (format.parse($0, cache: &cache), format.parse($0)) }
                #expect(cached == alone, "\(layout) on \(v): \(String(describing: cached)) vs \(String(describing: alone))")
            }
        }
    }

    @Test func aFractionAfterTheFixedPartIsReadToMicroseconds() throws {
        let format = try TimeFormat("yyyy-MM-dd HH:mm:ss[.SSS]")
        func micros(_ s: String) -> Int64? { Array(s.utf8).withUnsafeBufferPointer { format.parse($0)?.micros } }
        let whole = try #require(micros("2025-03-30 02:30:15"))
        #expect(micros("2025-03-30 02:30:15.5") == whole + 500_000)
        #expect(micros("2025-03-30 02:30:15.123") == whole + 123_000)
        #expect(micros("2025-03-30 02:30:15.1234567") == whole + 123_456)
        #expect(micros("2025-03-30 02:30:15.") == nil)
    }
}
