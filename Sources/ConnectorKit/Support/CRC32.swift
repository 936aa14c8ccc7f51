/// CRC-32 (IEEE 802.3, as zlib), used to recognise the content already consumed from a file.
/// Written here because ConnectorKit takes no C dependency; slicing-by-8 keeps it fast.
public struct CRC32: Sendable, Equatable, Codable {
    public private(set) var value: UInt32 = 0

    public init() {}

    /// Continues a CRC from a value computed earlier (e.g. one saved in a checkpoint).
    public init(resuming value: UInt32) { self.value = value }

    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        update(bytes)
    }

    /// Slicing-by-8 tables, flat: table `k` is `tables[256 * k ..< 256 * (k + 1)]`.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 256 * 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[256 * k + i] = (t[256 * (k - 1) + i] >> 8) ^ t[Int(t[256 * (k - 1) + i] & 0xFF)] }
        }
        return t
    }()

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Bool? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }.map { true }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    public mutating func update(_ buf: UnsafeRawBufferPointer) {
        guard let base = buf.baseAddress, buf.count > 0 else { return }
        var c = ~value
        let n = buf.count
        CRC32.tables.withUnsafeBufferPointer { tp in
            // Unchecked reads: every index below is masked to 0...255 within its table.
            let t = tp.baseAddress!
            var i = 0
            while i + 8 <= n {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let a = c ^ UInt32(truncatingIfNeeded: word)
                let b = UInt32(truncatingIfNeeded: word >> 32)
                c = t[1792 + Int(a & 0xFF)] ^ t[1536 + Int((a >> 8) & 0xFF)] ^ t[1280 + Int((a >> 16) & 0xFF)] ^ t[1024 + Int(a >> 24)]
                    ^ t[768 + Int(b & 0xFF)] ^ t[512 + Int((b >> 8) & 0xFF)] ^ t[256 + Int((b >> 16) & 0xFF)] ^ t[Int(b >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        value = ~c
    }
}
