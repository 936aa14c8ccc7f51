#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random access to a file's bytes for the reader.
public protocol ParquetInput: AnyObject {
    var size: Int64 { get }
    /// Exactly `count` bytes at `offset` (the caller keeps within `size`).
    func read(offset: Int64, count: Int) throws(ParquetError) -> [UInt8]
}

public final class MemoryInput: ParquetInput {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var size: Int64 { Int64(bytes.count) }

    public func read(offset: Int64, count: Int) throws(ParquetError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset + Int64(count) <= size else { throw .malformed("read of \(count) bytes at \(offset) past the end") }
        return Array(bytes[Int(offset)..<(Int(offset) + count)])
    }
}

/// A file read with `pread`; the descriptor is closed when the input is released.
public final class FileInput: ParquetInput {
    public let path: String
    private let fd: Int32
    public let size: Int64

    public init(path: String) throws(ParquetError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw .io("cannot stat \(path): \(message)")
        }
        size = Int64(st.st_size)
    }

    deinit { close(fd) }

    public func read(offset: Int64, count: Int) throws(ParquetError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset + Int64(count) <= size else { throw .malformed("read of \(count) bytes at \(offset) past the end of \(path)") }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: Int32 = 0
        out.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                if n == 0 { failure = -1; return }
                done += n
            }
        }
        if failure == -1 { throw .io("\(path) is shorter than expected (was it truncated while being read?)") }
        if failure != 0 { throw .io("cannot read \(path): \(String(cString: strerror(failure)))") }
        return out
    }
}
