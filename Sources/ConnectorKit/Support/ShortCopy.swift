/// Copies a few bytes without a call to `memmove`: the text fields of plant logs are mostly a
/// handful of bytes, and a library call per field cost more than the copy (string casts and the
/// binary COPY encoder copy every field once).
public enum ShortCopy {
    /// Copies `count` bytes from `source` to `destination` (not overlapping).
    @inlinable @inline(__always)
    public static func copy(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) {
        switch count {
        case 0:
            return
        case 1...3:
            // First, middle and last byte (some the same when the count is 1 or 2).
            let first = source.load(as: UInt8.self), middle = source.load(fromByteOffset: count >> 1, as: UInt8.self)
            let last = source.load(fromByteOffset: count - 1, as: UInt8.self)
            destination.storeBytes(of: first, as: UInt8.self)
            destination.storeBytes(of: middle, toByteOffset: count >> 1, as: UInt8.self)
            destination.storeBytes(of: last, toByteOffset: count - 1, as: UInt8.self)
        case 4...8:
            // Two overlapping four-byte words.
            let head = source.loadUnaligned(as: UInt32.self), tail = source.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
            destination.storeBytes(of: head, as: UInt32.self)
            destination.storeBytes(of: tail, toByteOffset: count - 4, as: UInt32.self)
        case 9...16:
            let head = source.loadUnaligned(as: UInt64.self), tail = source.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            destination.storeBytes(of: head, as: UInt64.self)
            destination.storeBytes(of: tail, toByteOffset: count - 8, as: UInt64.self)
        default:
            destination.copyMemory(from: source, byteCount: count)
        }
    }
}
