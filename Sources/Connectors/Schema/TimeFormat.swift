import Foundation
import ConnectorKit

/// A date/time layout such as `dd/MM/yyyy HH:mm:ss[.SSS]`, compiled once and applied to bytes.
///
/// Letters: `yyyy` `yy` year, `MM` `M` month, `dd` `d` day, `HH` `H` hour (0–23), `mm` minute,
/// `ss` second, `S…` fraction (1–9 digits), `XXX`/`Z` UTC offset (`Z`, `+03:00`, `-0300`),
/// `[…]` optional part, `'…'` literal text; anything else is literal.
/// Also the named layouts `iso8601`, `epoch_s`, `epoch_ms`, `epoch_us`.
struct TimeFormat: Sendable, CustomStringConvertible {
    /// Not `indirect`: `.optional` holds an array, already a reference, and an indirect enum
    /// boxes every case (a retain and a release per token, per value parsed).
    enum Token: Sendable, Equatable {
        case year4, year2, month(fixed: Bool), day(fixed: Bool), hour(fixed: Bool), minute, second, fraction, offset
        case literal(UInt8)
        case optional([Token])
    }

    enum Kind: Sendable { case pattern([Token]), iso8601, epoch(unitsPerSecond: Int64) }

    let kind: Kind
    let description: String
    /// The layout's leading fixed-width part and simple tail, when it has one (most have).
    let fixed: FixedLayout?
    /// How a value with the last value's date and hour is read, when the layout allows it.
    let sameHour: SameHourLayout?

    /// What a parse yields: local (or UTC when `offset` is set) microseconds since the epoch.
    struct Parsed: Equatable { var micros: Int64; var offsetSeconds: Int? ; var hasTime: Bool }

    init(_ text: String) throws(FormatError) {
        description = text
        switch text.lowercased() {
        case "iso8601", "iso-8601", "rfc3339": kind = .iso8601
        case "epoch_s", "epoch", "unix", "epoch_seconds": kind = .epoch(unitsPerSecond: 1)
        case "epoch_ms", "epoch_millis": kind = .epoch(unitsPerSecond: 1000)
        case "epoch_us", "epoch_micros": kind = .epoch(unitsPerSecond: 1_000_000)
        default:
            var chars = Array(text.utf8)[...]
            let tokens = try TimeFormat.compile(&chars, nested: false)
            if tokens.isEmpty { throw FormatError(message: "is empty") }
            kind = .pattern(tokens)
        }
        if case let .pattern(tokens) = kind { fixed = FixedLayout(tokens) } else { fixed = nil }
        sameHour = fixed.flatMap(SameHourLayout.init)
    }

    struct FormatError: Error { var message: String }

    private static func compile(_ s: inout ArraySlice<UInt8>, nested: Bool) throws(FormatError) -> [Token] {
        var out: [Token] = []
        while let c = s.first {
            if c == UInt8(ascii: "]") {
                guard nested else { throw FormatError(message: "has a ']' without '['") }
                s.removeFirst()
                return out
            }
            if c == UInt8(ascii: "[") {
                s.removeFirst()
                out.append(.optional(try compile(&s, nested: true)))
                continue
            }
            if c == UInt8(ascii: "'") {
                s.removeFirst()
                while let l = s.first, l != UInt8(ascii: "'") { out.append(.literal(l)); s.removeFirst() }
                guard !s.isEmpty else { throw FormatError(message: "has an unclosed quote") }
                s.removeFirst()
                continue
            }
            var run = 0
            while run < s.count && s[s.startIndex + run] == c { run += 1 }
            s.removeFirst(run)
            switch (Character(Unicode.Scalar(c)), run) {
            case ("y", 4): out.append(.year4)
            case ("y", 2): out.append(.year2)
            case ("M", 2): out.append(.month(fixed: true))
            case ("M", 1): out.append(.month(fixed: false))
            case ("d", 2): out.append(.day(fixed: true))
            case ("d", 1): out.append(.day(fixed: false))
            case ("H", 2): out.append(.hour(fixed: true))
            case ("H", 1): out.append(.hour(fixed: false))
            case ("m", 2): out.append(.minute)
            case ("s", 2): out.append(.second)
            case ("S", _): out.append(.fraction)
            case ("X", _), ("Z", 1), ("x", _): out.append(.offset)
            case ("y", _), ("M", _), ("d", _), ("H", _), ("m", _), ("s", _):
                throw FormatError(message: "has '\(String(repeating: Character(Unicode.Scalar(c)), count: run))'; use yyyy or yy, MM or M, dd or d, HH or H, mm, ss")
            case ("h", _), ("a", _):
                throw FormatError(message: "uses a 12-hour clock (h/a), which is not supported; use HH")
            default:
                for _ in 0..<run { out.append(.literal(c)) }
            }
        }
        if nested { throw FormatError(message: "has a '[' without ']'") }
        return out
    }

    /// True when the layout has a time of day (else only a date).
    var hasTimeOfDay: Bool {
        switch kind {
        case .iso8601, .epoch: return true
        case let .pattern(tokens):
            func any(_ t: [Token]) -> Bool {
                t.contains { if case .hour = $0 { return true }; if case let .optional(i) = $0 { return any(i) }; return false }
            }
            return any(tokens)
        }
    }

    fileprivate struct Fields {
        var year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, micros = 0
        var offset: Int?
    }

    func parse(_ b: UnsafeBufferPointer<UInt8>) -> Parsed? {
        var cache = HourCache()
        return parse(b, cache: &cache)
    }

    /// The date and hour of the last value a column's parse finished, and its microseconds at
    /// the start of that hour. Rows of a log mostly share both with the row before: such a value
    /// skips the calendar (month lengths, days since the epoch) and, for ISO 8601, reading its
    /// `yyyy-MM-ddThh` again. About 5 % of a CSV load's CPU went to those per value.
    struct HourCache {
        fileprivate var year = Int.min, month = 0, day = 0, hour = 0
        fileprivate var hourMicros: Int64 = 0
        /// The first 13 bytes of the last ISO value read (`yyyy-MM-ddThh`, two overlapping
        /// words), when the fields above are that value's.
        fileprivate var isoHead: (UInt64, UInt64)?
        /// The same for a fixed layout's head (`FixedLayout.headWidth`).
        fileprivate var fixedHead: (UInt64, UInt64)?
    }

    func parse(_ b: UnsafeBufferPointer<UInt8>, cache: inout HourCache) -> Parsed? {
        if let sameHour, let known = cache.fixedHead, let parsed = sameHour.read(b, head: known, hourMicros: cache.hourMicros) {
            return parsed
        }
        switch kind {
        case let .epoch(units): return TimeFormat.parseEpoch(b, unitsPerSecond: units)
        case .iso8601: return TimeFormat.parseISO(b, cache: &cache)
        case let .pattern(tokens):
            var f = Fields()
            var i = 0
            if let fixed {
                guard fixed.apply(b, &i, &f), i == b.count,
                      let parsed = TimeFormat.finish(f, hasTime: true, cache: &cache) else { return nil }
                if fixed.headWidth > 0 { cache.fixedHead = fixed.head(b.baseAddress!) }
                return parsed
            }
            guard TimeFormat.apply(tokens, b, &i, &f) else { return nil }
            guard i == b.count else { return nil }
            return TimeFormat.finish(f, hasTime: true, cache: &cache)
        }
    }

    /// `parse` by walking the tokens even where the layout has a fixed part (ISO 8601: field by
    /// field): the reference the fixed-offset reading is tested against.
    func parseWalkingTokens(_ b: UnsafeBufferPointer<UInt8>) -> Parsed? {
        if case .iso8601 = kind { return TimeFormat.parseISOWalking(b) }
        guard case let .pattern(tokens) = kind else { return parse(b) }
        var f = Fields()
        var i = 0
        guard TimeFormat.apply(tokens, b, &i, &f), i == b.count else { return nil }
        return TimeFormat.finish(f, hasTime: true)
    }

    /// A layout whose tokens up to the last (or its last optional part) all have one width, read at
    /// fixed offsets without walking the token list — the same result as `apply`, which a layout
    /// with variable-width fields (`d`, `M`, `H`) before its end still uses.
    struct FixedLayout: Sendable {
        enum Field: UInt8, Sendable { case year4, year2, month, day, hour, minute, second, literal }
        struct Step: Sendable { var field: Field; var offset: Int; var literal: UInt8 }
        /// What may follow the fixed part: nothing, `<separator>fraction`, or that in `[…]`.
        enum Tail: Sendable, Equatable { case none, fraction(separator: UInt8?, optional: Bool) }

        let steps: [Step]
        let width: Int
        let tail: Tail

        /// Eight bytes of the fixed part checked at once: its literals equal, its digits digits.
        struct Word: Sendable {
            var offset: Int
            var literalMask: UInt64 = 0, literalValue: UInt64 = 0
            /// 0xFF, 0x30, 0xF0 and 0x06 in the bytes that must be digits.
            var digitMask: UInt64 = 0, digitZero: UInt64 = 0, digitHigh: UInt64 = 0, digitSix: UInt64 = 0
        }
        /// The fixed part in words (the last one overlapping the one before); empty when it is
        /// shorter than eight bytes, read step by step then.
        let words: [Word]
        /// Where each field's digits start (-1: not in the layout).
        let yearAt: Int, year2: Bool, monthAt: Int, dayAt: Int, hourAt: Int, minuteAt: Int, secondAt: Int
        /// The bytes before the minutes when they hold the date and the hour and no other field
        /// (`yyyy-MM-dd HH:` of `yyyy-MM-dd HH:mm:ss`), at least eight of them: a value whose
        /// head equals the last one's has its date and hour (`HourCache`); 0: no such head.
        let headWidth: Int
        /// After the head: the minutes, then nothing, the seconds, or a literal and the seconds;
        /// then at most one more literal (the `.` before a fraction), at `width - 1`.
        let literalBeforeSeconds: UInt8?
        let literalAtEnd: UInt8?

        init?(_ tokens: [Token]) {
            var steps: [Step] = []
            var at = 0
            var rest = tokens[...]
            loop: while let t = rest.first {
                let field: Field, size: Int
                var literal: UInt8 = 0
                switch t {
                case .year4: (field, size) = (.year4, 4)
                case .year2: (field, size) = (.year2, 2)
                case .month(fixed: true): (field, size) = (.month, 2)
                case .day(fixed: true): (field, size) = (.day, 2)
                case .hour(fixed: true): (field, size) = (.hour, 2)
                case .minute: (field, size) = (.minute, 2)
                case .second: (field, size) = (.second, 2)
                case let .literal(c): (field, size) = (.literal, 1); literal = c
                default: break loop
                }
                steps.append(Step(field: field, offset: at, literal: literal))
                at += size
                rest.removeFirst()
            }
            // What is left must be nothing, a fraction, or an optional fraction with or without
            // its separator.
            switch rest.count {
            case 0: tail = .none
            case 1:
                switch rest.first! {
                case .fraction: tail = .fraction(separator: nil, optional: false)
                case let .optional(inner) where inner == [.fraction]: tail = .fraction(separator: nil, optional: true)
                case let .optional(inner) where inner.count == 2 && inner[1] == .fraction:
                    guard case let .literal(c) = inner[0] else { return nil }
                    tail = .fraction(separator: c, optional: true)
                default: return nil
                }
            default: return nil
            }
            guard !steps.isEmpty else { return nil }
            self.steps = steps
            width = at
            func start(_ field: Field) -> Int { steps.first { $0.field == field }?.offset ?? -1 }
            let year4At = start(.year4), year2At = start(.year2)
            yearAt = year4At >= 0 ? year4At : year2At
            year2 = year4At < 0 && year2At >= 0
            monthAt = start(.month); dayAt = start(.day); hourAt = start(.hour); minuteAt = start(.minute); secondAt = start(.second)
            let minutes = minuteAt
            let headFields = [yearAt, monthAt, dayAt, hourAt].filter { $0 >= 0 }
            var after = steps.filter { $0.offset >= minutes }
            let endLiteral = after.count > 1 && after.last!.field == .literal ? after.removeLast().literal : nil
            let shape = after.map(\.field)
            let shapeAfter = shape == [.minute] || shape == [.minute, .second] || shape == [.minute, .literal, .second]
            if minutes >= 8, minutes <= 16, shapeAfter, headFields.allSatisfy({ $0 < minutes }) {
                headWidth = minutes
                literalBeforeSeconds = shape.count == 3 ? after[1].literal : nil
                literalAtEnd = endLiteral
            } else {
                headWidth = 0
                literalBeforeSeconds = nil
                literalAtEnd = nil
            }
            if at >= 8 {
                // What each byte of the fixed part must be: a literal, or a digit.
                var literal = [UInt8?](repeating: nil, count: at)
                for s in steps where s.field == .literal { literal[s.offset] = s.literal }
                var offsets = Array(stride(from: 0, to: at - 8, by: 8))
                offsets.append(at - 8)
                words = offsets.map { offset in
                    var w = Word(offset: offset)
                    for k in 0..<8 {
                        let shift = UInt64(8 * k)
                        if let c = literal[offset + k] {
                            w.literalMask |= 0xFF << shift
                            w.literalValue |= UInt64(c) << shift
                        } else {
                            w.digitMask |= 0xFF << shift
                            w.digitZero |= 0x30 << shift
                            w.digitHigh |= 0xF0 << shift
                            w.digitSix |= 0x06 << shift
                        }
                    }
                    return w
                }
            } else {
                words = []
            }
        }

        @inline(__always)
        fileprivate static func two(_ p: UnsafePointer<UInt8>) -> Int? {
            let a = p[0] &- 48, b = p[1] &- 48
            guard a <= 9, b <= 9 else { return nil }
            return Int(a) * 10 + Int(b)
        }

        /// The head of `b` (see `headWidth`) as two overlapping words.
        @inline(__always)
        fileprivate func head(_ base: UnsafePointer<UInt8>) -> (UInt64, UInt64) {
            let raw = UnsafeRawPointer(base)
            return (raw.loadUnaligned(as: UInt64.self), raw.loadUnaligned(fromByteOffset: headWidth - 8, as: UInt64.self))
        }

        fileprivate func apply(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ f: inout Fields) -> Bool {
            guard b.count >= width, let base = b.baseAddress else { return false }
            if !words.isEmpty {
                for w in words {
                    let x = UInt64(littleEndian: UnsafeRawPointer(base + w.offset).loadUnaligned(as: UInt64.self))
                    guard x & w.literalMask == w.literalValue else { return false }
                    // Digits become 0…9, their high nibble then 0; adding 6 keeps it 0 only up to 9.
                    let t = (x & w.digitMask) ^ w.digitZero
                    guard t & w.digitHigh == 0, (t &+ w.digitSix) & w.digitHigh == 0 else { return false }
                }
                @inline(__always) func two(_ at: Int) -> Int { Int(base[at] &- 48) &* 10 &+ Int(base[at &+ 1] &- 48) }
                if yearAt >= 0 { f.year = year2 ? 2000 + two(yearAt) : two(yearAt) &* 100 &+ two(yearAt &+ 2) }
                if monthAt >= 0 { f.month = two(monthAt) }
                if dayAt >= 0 { f.day = two(dayAt) }
                if hourAt >= 0 { f.hour = two(hourAt) }
                if minuteAt >= 0 { f.minute = two(minuteAt) }
                if secondAt >= 0 { f.second = two(secondAt) }
                return applyTail(b, &i, &f)
            }
            for s in steps {
                let p = base + s.offset
                switch s.field {
                case .literal: guard p[0] == s.literal else { return false }
                case .year4:
                    guard let hi = FixedLayout.two(p), let lo = FixedLayout.two(p + 2) else { return false }
                    f.year = hi * 100 + lo
                case .year2: guard let v = FixedLayout.two(p) else { return false }; f.year = 2000 + v
                case .month: guard let v = FixedLayout.two(p) else { return false }; f.month = v
                case .day: guard let v = FixedLayout.two(p) else { return false }; f.day = v
                case .hour: guard let v = FixedLayout.two(p) else { return false }; f.hour = v
                case .minute: guard let v = FixedLayout.two(p) else { return false }; f.minute = v
                case .second: guard let v = FixedLayout.two(p) else { return false }; f.second = v
                }
            }
            return applyTail(b, &i, &f)
        }

        @inline(__always)
        private func applyTail(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ f: inout Fields) -> Bool {
            i = width
            guard case let .fraction(separator, optional) = tail else { return true }
            var j = i
            if let separator {
                guard j < b.count, b[j] == separator else { return optional }
                j += 1
            }
            guard let micros = TimeFormat.fraction(b, &j) else { return optional }
            f.micros = micros
            i = j
            return true
        }
    }

    /// A fixed layout's reading of a value whose head (`FixedLayout.headWidth`: the date and
    /// hour) equals the last value's: the minutes, seconds and fraction, added to the hour's
    /// microseconds. Integers only, so reaching it costs no reference counting (`FixedLayout`
    /// holds arrays), and no `Fields` is filled and finished. It yields only values that read
    /// cleanly; anything else (a bad digit, a missing fraction) goes the general way, which names
    /// the problem or reads what this does not.
    struct SameHourLayout: Sendable {
        let headWidth: Int, width: Int, minuteAt: Int, secondAt: Int
        /// -1: none.
        let literalBeforeSeconds: Int, literalAtEnd: Int
        /// After the fixed part: nothing, fraction digits (required or optional), or an optional
        /// separator and fraction digits.
        enum Fraction: Sendable { case none, required, optional, optionalAfter(UInt8) }
        let fraction: Fraction

        init?(_ fixed: FixedLayout) {
            guard fixed.headWidth > 0 else { return nil }
            headWidth = fixed.headWidth
            width = fixed.width
            minuteAt = fixed.minuteAt
            secondAt = fixed.secondAt
            literalBeforeSeconds = fixed.literalBeforeSeconds.map(Int.init) ?? -1
            literalAtEnd = fixed.literalAtEnd.map(Int.init) ?? -1
            switch fixed.tail {
            case .none: fraction = .none
            case .fraction(separator: nil, optional: false): fraction = .required
            case .fraction(separator: nil, optional: true): fraction = .optional
            case let .fraction(separator: c?, optional: true): fraction = .optionalAfter(c)
            case .fraction(separator: _?, optional: false): return nil
            }
        }

        @inline(__always)
        func read(_ b: UnsafeBufferPointer<UInt8>, head: (UInt64, UInt64), hourMicros: Int64) -> Parsed? {
            let n = b.count
            guard n >= width, let base = b.baseAddress else { return nil }
            let raw = UnsafeRawPointer(base)
            guard raw.loadUnaligned(as: UInt64.self) == head.0,
                  raw.loadUnaligned(fromByteOffset: headWidth &- 8, as: UInt64.self) == head.1,
                  let minute = FixedLayout.two(base + minuteAt), minute < 60 else { return nil }
            var second = 0
            if secondAt >= 0 {
                if literalBeforeSeconds >= 0 && Int(base[minuteAt &+ 2]) != literalBeforeSeconds { return nil }
                guard let s = FixedLayout.two(base + secondAt), s < 61 else { return nil }
                second = min(s, 59)
            }
            if literalAtEnd >= 0 && Int(base[width &- 1]) != literalAtEnd { return nil }
            var micros = 0
            if n > width {
                var j = width
                switch fraction {
                case .none: return nil
                case .required, .optional: break
                case let .optionalAfter(c):
                    guard base[j] == c else { return nil }
                    j &+= 1
                }
                let digitsStart = j
                while j < n {
                    let d = base[j] &- 48
                    guard d <= 9 else { return nil }
                    micros = micros &* 10 &+ Int(d)
                    j &+= 1
                }
                var count = j &- digitsStart
                guard count >= 1 && count <= 9 else { return nil }
                while count < 6 { micros &*= 10; count &+= 1 }
                while count > 6 { micros /= 10; count &-= 1 }
            } else if case .required = fraction {
                return nil
            }
            return Parsed(micros: hourMicros &+ Int64(minute &* 60 &+ second) &* 1_000_000 &+ Int64(micros), offsetSeconds: nil, hasTime: true)
        }
    }

    /// 1–9 fraction digits as microseconds (truncated past six).
    @inline(__always)
    fileprivate static func fraction(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int? {
        let start = i
        guard var us = digits(b, &i, min: 1, max: 9) else { return nil }
        var n = i - start
        while n < 6 { us *= 10; n += 1 }
        while n > 6 { us /= 10; n -= 1 }
        return us
    }

    /// `finish`, with the calendar skipped when the date and hour are the cache's.
    @inline(__always)
    private static func finish(_ f: Fields, hasTime: Bool, cache: inout HourCache) -> Parsed? {
        if f.hour == cache.hour && f.day == cache.day && f.month == cache.month && f.year == cache.year {
            guard f.minute < 60, f.second < 61 else { return nil }
            let secs = Int64(f.minute * 60 + min(f.second, 59))
            return Parsed(micros: cache.hourMicros + secs * 1_000_000 + Int64(f.micros), offsetSeconds: f.offset, hasTime: hasTime)
        }
        guard let parsed = finish(f, hasTime: hasTime) else { return nil }
        cache.isoHead = nil
        cache.fixedHead = nil
        (cache.year, cache.month, cache.day, cache.hour) = (f.year, f.month, f.day, f.hour)
        cache.hourMicros = parsed.micros - Int64(f.minute * 60 + min(f.second, 59)) * 1_000_000 - Int64(f.micros)
        return parsed
    }

    private static func finish(_ f: Fields, hasTime: Bool) -> Parsed? {
        guard (1...12).contains(f.month), f.day >= 1, f.day <= CivilDateShim.daysInMonth(f.year, f.month),
              f.hour < 24, f.minute < 60, f.second < 61 else { return nil }
        let days = Int64(CivilDateShim.days(f.year, f.month, f.day))
        let secs = days * 86400 + Int64(f.hour * 3600 + f.minute * 60 + min(f.second, 59))
        return Parsed(micros: secs * 1_000_000 + Int64(f.micros), offsetSeconds: f.offset, hasTime: hasTime)
    }

    @inline(__always)
    private static func digits(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, min: Int, max: Int) -> Int? {
        var v = 0
        var k = 0
        while k < max && i < b.count {
            let d = b[i] &- 48
            if d > 9 { break }
            v = v * 10 + Int(d)
            i += 1
            k += 1
        }
        return k >= min ? v : nil
    }

    private static func apply(_ tokens: [Token], _ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ f: inout Fields) -> Bool {
        for t in tokens {
            switch t {
            case .year4: guard let v = digits(b, &i, min: 4, max: 4) else { return false }; f.year = v
            case .year2: guard let v = digits(b, &i, min: 2, max: 2) else { return false }; f.year = 2000 + v
            case let .month(fixed): guard let v = digits(b, &i, min: fixed ? 2 : 1, max: 2) else { return false }; f.month = v
            case let .day(fixed): guard let v = digits(b, &i, min: fixed ? 2 : 1, max: 2) else { return false }; f.day = v
            case let .hour(fixed): guard let v = digits(b, &i, min: fixed ? 2 : 1, max: 2) else { return false }; f.hour = v
            case .minute: guard let v = digits(b, &i, min: 2, max: 2) else { return false }; f.minute = v
            case .second: guard let v = digits(b, &i, min: 2, max: 2) else { return false }; f.second = v
            case .fraction:
                guard let us = fraction(b, &i) else { return false }
                f.micros = us
            case .offset:
                guard let o = parseOffset(b, &i) else { return false }
                f.offset = o
            case let .literal(c):
                guard i < b.count, b[i] == c else { return false }
                i += 1
            case let .optional(inner):
                var j = i
                var g = f
                if apply(inner, b, &j, &g) { i = j; f = g }
            }
        }
        return true
    }

    private static func parseOffset(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int? {
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") { i += 1; return 0 }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") else { return nil }
        let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
        i += 1
        guard let h = digits(b, &i, min: 2, max: 2) else { return nil }
        var m = 0
        if i < b.count && b[i] == UInt8(ascii: ":") { i += 1 }
        if i < b.count, let mm = digits(b, &i, min: 2, max: 2) { m = mm }
        return sign * (h * 3600 + m * 60)
    }

    /// ISO 8601. Nearly every such timestamp starts `yyyy-MM-ddThh:mm:ss`: that prefix is read at
    /// fixed offsets (a handful of byte compares instead of the digit loops, measured at about 6 %
    /// of a CSV load's CPU); anything else goes to `parseISOWalking`, which reads the same prefix
    /// to the same fields.
    private static func parseISO(_ b: UnsafeBufferPointer<UInt8>, cache: inout HourCache) -> Parsed? {
        guard b.count >= 19, let p = b.baseAddress else { return parseISOWalking(b) }
        let head = (UnsafeRawPointer(p).loadUnaligned(as: UInt64.self), UnsafeRawPointer(p + 5).loadUnaligned(as: UInt64.self))
        if let known = cache.isoHead, known == head {
            // The date and hour of the value before, already checked: the rest as below.
            guard p[13] == UInt8(ascii: ":"), p[16] == UInt8(ascii: ":"),
                  let minute = FixedLayout.two(p + 14), let second = FixedLayout.two(p + 17) else { return parseISOWalking(b) }
            var f = Fields()
            (f.year, f.month, f.day, f.hour, f.minute, f.second) = (cache.year, cache.month, cache.day, cache.hour, minute, second)
            var i = 19
            guard isoTail(b, &i, &f) else { return nil }
            return finish(f, hasTime: true, cache: &cache)
        }
        guard p[4] == UInt8(ascii: "-"), p[7] == UInt8(ascii: "-"),
              p[10] == UInt8(ascii: "T") || p[10] == UInt8(ascii: " ") || p[10] == UInt8(ascii: "t"),
              p[13] == UInt8(ascii: ":"), p[16] == UInt8(ascii: ":"),
              let century = FixedLayout.two(p), let year = FixedLayout.two(p + 2), let month = FixedLayout.two(p + 5),
              let day = FixedLayout.two(p + 8), let hour = FixedLayout.two(p + 11), let minute = FixedLayout.two(p + 14),
              let second = FixedLayout.two(p + 17)
        else { return parseISOWalking(b) }
        var f = Fields()
        f.year = century &* 100 &+ year
        f.month = month; f.day = day; f.hour = hour; f.minute = minute; f.second = second
        var i = 19
        guard isoTail(b, &i, &f), let parsed = finish(f, hasTime: true, cache: &cache) else { return nil }
        cache.isoHead = head
        return parsed
    }

    /// After the seconds: an optional fraction, the optional offset, and the end.
    @inline(__always)
    private static func isoTail(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ f: inout Fields) -> Bool {
        if i == b.count { return true }
        if b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
            i += 1
            guard let us = fraction(b, &i) else { return false }
            f.micros = us
        }
        if i < b.count {
            guard let o = parseOffset(b, &i) else { return false }
            f.offset = o
        }
        return i == b.count
    }

    /// ISO 8601 read field by field: the general case, and the reference the fixed-offset
    /// reading is tested against.
    static func parseISOWalking(_ b: UnsafeBufferPointer<UInt8>) -> Parsed? {
        var f = Fields()
        var i = 0
        guard let y = digits(b, &i, min: 4, max: 4), i < b.count, b[i] == UInt8(ascii: "-") else { return nil }
        i += 1
        guard let mo = digits(b, &i, min: 2, max: 2), i < b.count, b[i] == UInt8(ascii: "-") else { return nil }
        i += 1
        guard let d = digits(b, &i, min: 2, max: 2) else { return nil }
        f.year = y; f.month = mo; f.day = d
        if i == b.count { return finish(f, hasTime: false) }
        guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ") || b[i] == UInt8(ascii: "t") else { return nil }
        i += 1
        guard let h = digits(b, &i, min: 2, max: 2), i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
        i += 1
        guard let mi = digits(b, &i, min: 2, max: 2) else { return nil }
        f.hour = h; f.minute = mi
        if i < b.count && b[i] == UInt8(ascii: ":") {
            i += 1
            guard let s = digits(b, &i, min: 2, max: 2) else { return nil }
            f.second = s
            return isoAfterSeconds(b, &i, &f)
        }
        return isoOffsetAndEnd(b, &i, &f)
    }

    /// After the seconds: an optional fraction, then the optional offset and the end.
    @inline(__always)
    private static func isoAfterSeconds(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ f: inout Fields) -> Parsed? {
        if i < b.count && (b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",")) {
            i += 1
            guard let us = fraction(b, &i) else { return nil }
            f.micros = us
        }
        return isoOffsetAndEnd(b, &i, &f)
    }

    @inline(__always)
    private static func isoOffsetAndEnd(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ f: inout Fields) -> Parsed? {
        if i < b.count {
            guard let o = parseOffset(b, &i) else { return nil }
            f.offset = o
        }
        guard i == b.count else { return nil }
        return finish(f, hasTime: true)
    }

    private static func parseEpoch(_ b: UnsafeBufferPointer<UInt8>, unitsPerSecond: Int64) -> Parsed? {
        var i = 0
        var negative = false
        if i < b.count && b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var whole: Int64 = 0
        var any = false
        while i < b.count, b[i] &- 48 <= 9 {
            let (m, o) = whole.multipliedReportingOverflow(by: 10)
            if o { return nil }
            whole = m + Int64(b[i] - 48)
            i += 1
            any = true
        }
        guard any else { return nil }
        var fracMicros: Int64 = 0
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            var scale: Int64 = 1_000_000 / unitsPerSecond
            while i < b.count, b[i] &- 48 <= 9 {
                scale /= 10
                fracMicros += Int64(b[i] - 48) * scale
                i += 1
            }
        }
        guard i == b.count else { return nil }
        let (micros, o) = whole.multipliedReportingOverflow(by: 1_000_000 / unitsPerSecond)
        if o { return nil }
        let v = micros + fracMicros
        return Parsed(micros: negative ? -v : v, offsetSeconds: 0, hasTime: true)
    }
}

enum CivilDateShim {
    @inline(__always) static func days(_ y: Int, _ m: Int, _ d: Int) -> Int { CivilDate.days(year: y, month: m, day: d) }
    @inline(__always) static func daysInMonth(_ y: Int, _ m: Int) -> Int { CivilDate.daysInMonth(year: y, month: m) }
}

/// Converts local wall-clock times in a time zone to UTC, caching the offset per hour because
/// Foundation's lookup is slow for per-row use.
struct ZoneConverter {
    let zone: TimeZone
    /// Read once: the identifier is a bridged string, too dear to compare per value.
    private let isUTC: Bool
    private var cachedHour: Int64 = .min
    private var cachedOffset: Int64 = 0

    init(zone: TimeZone) {
        self.zone = zone
        isUTC = zone.identifier == "UTC" || zone.identifier == "GMT"
    }

    /// UTC microseconds for local microseconds. In a DST gap the time is read with the offset
    /// before the gap (so it lands after it); in an overlap the earlier (first) instant is taken.
    @inline(__always)
    mutating func toUTC(localMicros: Int64) -> Int64 {
        if isUTC { return localMicros }
        let localSeconds = floorDiv(localMicros, 1_000_000)
        let hour = floorDiv(localSeconds, 3600)
        if hour != cachedHour {
            cachedHour = hour
            cachedOffset = offset(forLocal: hour * 3600)
            // Only cache hours that contain no transition.
            if offset(forLocal: hour * 3600 + 3599) != cachedOffset { cachedHour = .min }
        }
        let off = cachedHour == hour ? cachedOffset : offset(forLocal: localSeconds)
        return localMicros - off * 1_000_000
    }

    private func offset(forLocal local: Int64) -> Int64 {
        // First guess with the offset at (local − 1 day), then settle; prefer the earlier instant.
        let before = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local - 86400))))
        let after = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local + 86400))))
        let candidates = [before, after]
        for off in candidates.sorted(by: >) {
            let utc = local - off
            if Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utc)))) == off { return off }
        }
        return before
    }

    private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
}
