import ConnectorKit
import CompressionCodecs

/// Writes one column chunk: statistics, the choice between a dictionary and PLAIN (made once for
/// the whole chunk, never mixed inside it), the pages, and the chunk's metadata.
struct ColumnChunkWriter {
    let options: ParquetWriterOptions
    let codec: any BlockCodec
    /// Reused between pages: the uncompressed page, the compressed page, the levels.
    private var page: [UInt8] = []
    private var compressed: [UInt8] = []
    private var levels: [UInt8] = []
    private var fixedDictionary = FixedWidthDictionaryEncoder()

    init(options: ParquetWriterOptions) {
        self.options = options
        codec = options.makeCodec()
    }

    /// Writes `column`'s chunk at the output's position and returns its metadata.
    mutating func write(_ column: ColumnBuffer, to output: any ParquetOutput) throws(ParquetError) -> ColumnChunk {
        let statistics = Self.statistics(column)
        let dictionary = options.dictionary ? dictionary(for: column, limit: options.dictionaryPageBytes) : nil
        var uncompressedTotal: Int64 = 0
        var compressedTotal: Int64 = 0
        var dictionaryOffset: Int64?
        if let dictionary {
            dictionaryOffset = output.position
            var header = PageHeader(type: .dictionaryPage, uncompressedPageSize: 0, compressedPageSize: 0)
            header.dictionaryPageHeader = DictionaryPageHeader(numValues: Int32(dictionary.count), encoding: .plain, isSorted: false)
            let (u, c) = try writePage(dictionary.plain, header: header, to: output)
            uncompressedTotal += u
            compressedTotal += c
        }
        let dataOffset = output.position
        let bitWidth = dictionary.map { max(1, RLEHybrid.bitWidth(forMax: UInt32($0.count - 1))) } ?? 0
        var valueStart = 0
        for rows in pageRanges(column, dictionaryBitWidth: dictionary == nil ? nil : bitWidth) {
            page.removeAll(keepingCapacity: true)
            var valueCount = rows.count
            if !column.definitionLevels.isEmpty {
                levels.removeAll(keepingCapacity: true)
                column.definitionLevels.withUnsafeBufferPointer {
                    RLEHybrid.encode(UnsafeBufferPointer(rebasing: $0[rows]), bitWidth: 1, into: &levels)
                }
                Plain.append(UInt32(levels.count), to: &page)
                page.append(contentsOf: levels)
                valueCount = column.definitionLevels[rows].reduce(0) { $0 + Int($1) }
            }
            let values = valueStart..<(valueStart + valueCount)
            if let dictionary {
                page.append(UInt8(bitWidth))
                dictionary.indices.withUnsafeBufferPointer {
                    RLEHybrid.encode(UnsafeBufferPointer(rebasing: $0[values]), bitWidth: bitWidth, into: &page)
                }
            } else {
                Self.appendPlain(column.values, values, to: &page)
            }
            valueStart += valueCount
            var header = PageHeader(type: .dataPage, uncompressedPageSize: 0, compressedPageSize: 0)
            header.dataPageHeader = DataPageHeader(numValues: Int32(rows.count), encoding: dictionary == nil ? .plain : .rleDictionary,
                                                   definitionLevelEncoding: .rle, repetitionLevelEncoding: .rle)
            let pageBytes = page
            let (u, c) = try writePage(pageBytes, header: header, to: output)
            uncompressedTotal += u
            compressedTotal += c
        }
        let encodings: [Encoding] = dictionary == nil ? [.plain, .rle] : [.plain, .rle, .rleDictionary]
        let meta = ColumnMetaData(type: column.element.type!, encodings: encodings, pathInSchema: [column.field.name],
                                  codec: options.codec, numValues: Int64(column.rows),
                                  totalUncompressedSize: uncompressedTotal, totalCompressedSize: compressedTotal,
                                  dataPageOffset: dataOffset, dictionaryPageOffset: dictionaryOffset, statistics: statistics)
        return ColumnChunk(fileOffset: 0, metaData: meta)
    }

    /// Compresses and writes one page with its header; returns (uncompressed, compressed) sizes,
    /// headers included, as the chunk totals count them.
    private mutating func writePage(_ body: [UInt8], header: PageHeader, to output: any ParquetOutput) throws(ParquetError) -> (Int64, Int64) {
        compressed.removeAll(keepingCapacity: true)
        do {
            try withRawBytes(body) { (raw: UnsafeRawBufferPointer) throws(CompressionError) in
                try codec.compress(raw, appendingTo: &compressed)
            }
        } catch {
            throw .io("compressing a page: \(error)")
        }
        guard body.count <= Int32.max, compressed.count <= Int32.max else { throw .invalidInput("a page exceeds 2 GiB") }
        var h = header
        h.uncompressedPageSize = Int32(body.count)
        h.compressedPageSize = Int32(compressed.count)
        let headerBytes = h.encoded()
        try output.write(headerBytes)
        try output.write(compressed)
        return (Int64(headerBytes.count + body.count), Int64(headerBytes.count + compressed.count))
    }

    // MARK: Pages

    /// Row ranges of about `pageBytes` each.
    private func pageRanges(_ column: ColumnBuffer, dictionaryBitWidth: Int?) -> [Range<Int>] {
        let target = options.pageBytes * 8  // in bits
        var ranges: [Range<Int>] = []
        let levels = column.definitionLevels
        let nullable = !levels.isEmpty
        // Cost of one present value in bits, when fixed.
        let fixedBits: Int? = {
            if let w = dictionaryBitWidth { return w }
            switch column.values {
            case .boolean: return 1
            case .int32: return 32
            case .int64, .double: return 64
            case let .fixed(w, _): return 8 * w
            case .bytes: return nil
            }
        }()
        if let fixedBits, !nullable {
            let perPage = max(1, target / max(1, fixedBits))
            var start = 0
            while start < column.rows {
                let end = min(column.rows, start + perPage)
                ranges.append(start..<end)
                start = end
            }
            return ranges
        }
        var start = 0
        var bits = 0
        var value = 0
        let strings: StringColumn? = if case let .bytes(s) = column.values, dictionaryBitWidth == nil { s } else { nil }
        for row in 0..<column.rows {
            if nullable {
                bits += 1
                if levels[row] == 0 { continue }
            }
            if let fixedBits {
                bits += fixedBits
            } else if let strings {
                bits += 8 * (4 + Int(strings.offsets[value + 1] - strings.offsets[value]))
            }
            value += 1
            if bits >= target {
                ranges.append(start..<(row + 1))
                start = row + 1
                bits = 0
            }
        }
        if start < column.rows || ranges.isEmpty { ranges.append(start..<column.rows) }
        return ranges
    }

    static func appendPlain(_ values: ColumnBuffer.Values, _ range: Range<Int>, to out: inout [UInt8]) {
        switch values {
        case let .boolean(v): Plain.appendBooleans(v[range], to: &out)
        case let .int32(v): v.withUnsafeBufferPointer { Plain.appendAll(UnsafeBufferPointer(rebasing: $0[range]), to: &out) }
        case let .int64(v): v.withUnsafeBufferPointer { Plain.appendAll(UnsafeBufferPointer(rebasing: $0[range]), to: &out) }
        case let .double(v):
            v.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: UInt64.self) { Plain.appendAll(UnsafeBufferPointer(rebasing: $0[range]), to: &out) }
            }
        case let .fixed(w, b): out.append(contentsOf: b[(range.lowerBound * w)..<(range.upperBound * w)])
        case let .bytes(s):
            out.reserveCapacity(out.count + 4 * range.count + Int(s.offsets[range.upperBound] - s.offsets[range.lowerBound]))
            s.bytes.withUnsafeBufferPointer { all in
                for i in range {
                    Plain.appendByteArray(UnsafeBufferPointer(rebasing: all[s.range(i)]), to: &out)
                }
            }
        }
    }

    // MARK: Dictionary

    struct Dictionary {
        var plain: [UInt8]
        var count: Int
        var indices: [UInt32]
    }

    /// The chunk's dictionary, when one pays: entries within `limit` PLAIN bytes, and dictionary
    /// plus indices smaller than PLAIN.
    mutating func dictionary(for column: ColumnBuffer, limit: Int) -> Dictionary? {
        let n = column.valueCount
        guard n > 0 else { return nil }
        var indices = [UInt32]()
        var plain: [UInt8] = []
        var entries = 0
        func encodeFixed<T>(_ v: [T], entryBytes: Int, _ bits: (T) -> UInt64) -> Bool {
            let ok = v.withUnsafeBufferPointer { p in
                fixedDictionary.encode(count: n, maxEntries: max(1, limit / entryBytes), sample: Self.sampleSize) { bits(p[$0]) }
            }
            guard ok else { return false }
            plain.reserveCapacity(fixedDictionary.entries.count * entryBytes)
            for k in fixedDictionary.entries {
                if entryBytes == 4 { Plain.append(UInt32(truncatingIfNeeded: k), to: &plain) } else { Plain.append(k, to: &plain) }
            }
            entries = fixedDictionary.entries.count
            indices = fixedDictionary.indices  // shared, not copied; may be longer than n
            return true
        }
        switch column.values {
        case .boolean:
            return nil
        case let .int32(v):
            guard encodeFixed(v, entryBytes: 4, { UInt64(UInt32(bitPattern: $0)) }) else { return nil }
        case let .int64(v):
            guard encodeFixed(v, entryBytes: 8, { UInt64(bitPattern: $0) }) else { return nil }
        case let .double(v):
            guard encodeFixed(v, entryBytes: 8, { $0.bitPattern }) else { return nil }
        case let .fixed(w, bytes):
            var d = ByteStringDictionary()
            indices.reserveCapacity(n)
            let ok = bytes.withUnsafeBytes { raw -> Bool in
                for i in 0..<n {
                    indices.append(d.index(of: UnsafeRawBufferPointer(rebasing: raw[(i * w)..<((i + 1) * w)])))
                    if d.bytes.count > limit { return false }
                }
                return true
            }
            guard ok else { return nil }
            plain = d.bytes
            entries = d.count
        case let .bytes(s):
            var d = ByteStringDictionary()
            indices.reserveCapacity(n)
            let ok = s.bytes.withUnsafeBytes { raw -> Bool in
                for i in 0..<n {
                    indices.append(d.index(of: UnsafeRawBufferPointer(rebasing: raw[s.range(i)])))
                    if d.bytes.count + 4 * d.count > limit { return false }
                    if i + 1 == Self.sampleSize, d.count * 10 > Self.sampleSize * 9 { return false }
                }
                return true
            }
            guard ok else { return nil }
            plain.reserveCapacity(d.bytes.count + 4 * d.count)
            d.bytes.withUnsafeBufferPointer { all in
                for i in 0..<d.count {
                    Plain.appendByteArray(UnsafeBufferPointer(rebasing: all[d.offsets[i]..<d.offsets[i + 1]]), to: &plain)
                }
            }
            entries = d.count
        }
        let bitWidth = max(1, RLEHybrid.bitWidth(forMax: UInt32(entries - 1)))
        let estimate = plain.count + (n * bitWidth + 7) / 8
        guard estimate < column.plainSize else { return nil }
        return Dictionary(plain: plain, count: entries, indices: indices)
    }

    /// Values looked at before giving up on a dictionary for a column that is mostly distinct.
    static let sampleSize = 16_384

    // MARK: Statistics

    /// min/max over the present values (NaN excluded) in the column's sort order, PLAIN-encoded
    /// without length prefix, and the null count; exact, never truncated.
    static func statistics(_ column: ColumnBuffer) -> Statistics {
        var s = Statistics()
        s.nullCount = Int64(column.nullCount)
        var minBytes: [UInt8]?
        var maxBytes: [UInt8]?
        switch column.values {
        case let .boolean(v):
            if !v.isEmpty {
                minBytes = [v.contains(false) ? 0 : 1]
                maxBytes = [v.contains(true) ? 1 : 0]
            }
        case let .int32(v):
            if let lo = v.min(), let hi = v.max() {
                minBytes = []; Plain.append(lo, to: &minBytes!)
                maxBytes = []; Plain.append(hi, to: &maxBytes!)
            }
        case let .int64(v):
            if let lo = v.min(), let hi = v.max() {
                minBytes = []; Plain.append(lo, to: &minBytes!)
                maxBytes = []; Plain.append(hi, to: &maxBytes!)
            }
        case let .double(v):
            var lo = Double.infinity, hi = -Double.infinity, nans: Int64 = 0, any = false
            for x in v {
                if x.isNaN { nans += 1; continue }
                any = true
                if x < lo { lo = x }
                if x > hi { hi = x }
            }
            s.nanCount = nans
            if any {
                // The format's rule for zeros: a zero minimum is written -0.0, a zero maximum +0.0.
                if lo == 0 { lo = -0.0 }
                if hi == 0 { hi = 0.0 }
                minBytes = []; Plain.append(lo, to: &minBytes!)
                maxBytes = []; Plain.append(hi, to: &maxBytes!)
            }
        case let .fixed(w, bytes):
            if !bytes.isEmpty {
                var lo = 0, hi = 0
                for i in 1..<(bytes.count / w) {
                    if compareSignedBigEndian(bytes, i * w, lo * w, w) < 0 { lo = i }
                    if compareSignedBigEndian(bytes, i * w, hi * w, w) > 0 { hi = i }
                }
                minBytes = Array(bytes[(lo * w)..<((lo + 1) * w)])
                maxBytes = Array(bytes[(hi * w)..<((hi + 1) * w)])
            }
        case let .bytes(strings):
            if strings.count > 0 {
                var lo = 0, hi = 0
                strings.bytes.withUnsafeBytes { raw in
                    func slice(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: raw[strings.range(i)]) }
                    for i in 1..<strings.count {
                        let v = slice(i)
                        if compareUnsigned(v, slice(lo)) < 0 { lo = i }
                        if compareUnsigned(v, slice(hi)) > 0 { hi = i }
                    }
                }
                minBytes = Array(strings.bytes[strings.range(lo)])
                maxBytes = Array(strings.bytes[strings.range(hi)])
            }
        }
        if let minBytes, let maxBytes {
            s.minValue = minBytes
            s.maxValue = maxBytes
            s.isMinValueExact = true
            s.isMaxValueExact = true
        }
        return s
    }

    /// Byte-wise unsigned order, a shorter prefix first (UTF-8 and BYTE_ARRAY order).
    static func compareUnsigned(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = min(a.count, b.count)
        if n > 0 {
            let c = memcmp(a.baseAddress!, b.baseAddress!, n)
            if c != 0 { return Int(c) }
        }
        return a.count - b.count
    }

    /// Two's complement big-endian order of equal-width values.
    static func compareSignedBigEndian(_ bytes: [UInt8], _ a: Int, _ b: Int, _ width: Int) -> Int {
        let x = Int8(bitPattern: bytes[a]), y = Int8(bitPattern: bytes[b])
        if x != y { return x < y ? -1 : 1 }
        for k in 1..<width where bytes[a + k] != bytes[b + k] {
            return bytes[a + k] < bytes[b + k] ? -1 : 1
        }
        return 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
