import CByteClasses

/// The field ends (delimiters and line feeds) and quotes of one 64-byte window of the input, as
/// bits: the end of an unquoted field is the next set bit, and whether a field starts with a
/// quote is one bit test. Searched byte by byte or field by field, the fields' varying lengths
/// made the search loop's exit a branch the CPU mispredicted every few fields; here the window
/// is classified once (SSE2, `CByteClasses`) and each field costs a few bit operations. Valid for
/// one buffer: made anew for each.
struct CSVWindow {
    private let delimiter: UInt8, quote: UInt8
    /// Where the window starts; far below any index when none is loaded.
    private(set) var base = Int.min / 2
    private(set) var ends: UInt64 = 0
    private(set) var quotes: UInt64 = 0

    init(delimiter: UInt8, quote: UInt8) {
        self.delimiter = delimiter
        self.quote = quote
    }

    /// Classifies the 64 bytes from `i`, which must all be in `buf`.
    @inline(__always)
    mutating func load(_ buf: UnsafeBufferPointer<UInt8>, at i: Int) {
        let w = sluice_csv_classify64(buf.baseAddress! + i, delimiter, quote)
        base = i
        ends = w.ends
        quotes = w.quotes
    }

    /// The first index at or after `from` whose byte is the delimiter or a line feed;
    /// `buf.count` when none is.
    @inline(__always)
    mutating func firstEnd(in buf: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var i = from
        while true {
            let offset = i &- base
            if UInt(bitPattern: offset) < 64 {
                let later = ends & (~0 << UInt64(offset))
                if later != 0 { return base &+ later.trailingZeroBitCount }
                i = base &+ 64
            }
            if i &+ 64 > buf.count { return ByteSearch.firstIndex(of: delimiter, or: 0x0A, in: buf, from: i) }
            load(buf, at: i)
        }
    }
}
