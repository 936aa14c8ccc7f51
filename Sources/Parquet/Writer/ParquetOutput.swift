#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a writer puts the file's bytes, in order.
public protocol ParquetOutput: AnyObject {
    /// Bytes written so far (the offset of the next byte).
    var position: Int64 { get }
    func write(_ bytes: UnsafeRawBufferPointer) throws(ParquetError)
}

extension ParquetOutput {
    func write(_ bytes: [UInt8]) throws(ParquetError) {
        try withRawBytes(bytes) { (raw: UnsafeRawBufferPointer) throws(ParquetError) in try write(raw) }
    }
}

/// A file in memory (tests, the fuzzer, small outputs).
public final class MemoryOutput: ParquetOutput {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public var position: Int64 { Int64(bytes.count) }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) {
        self.bytes.append(contentsOf: bytes)
    }
}

/// A new file on disk, written through a 1 MiB buffer. Created exclusively (an existing file is
/// an error, never overwritten) with the given mode; `sync` flushes and fsyncs it.
public final class FileOutput: ParquetOutput {
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var written: Int64 = 0
    private static let bufferSize = 1 << 20

    public init(creating path: String, mode: mode_t = 0o600) throws(ParquetError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .io("cannot create \(path): \(String(cString: strerror(errno)))") }
        buffer.reserveCapacity(Self.bufferSize)
    }

    deinit {
        if fd >= 0 { _ = Glibc_close(fd) }
    }

    public var position: Int64 { written + Int64(buffer.count) }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) {
        if buffer.count + bytes.count > Self.bufferSize {
            try drain()
            if bytes.count >= Self.bufferSize {
                try writeAll(bytes)
                return
            }
        }
        buffer.append(contentsOf: bytes)
    }

    /// Writes what is buffered and fsyncs the file.
    public func sync() throws(ParquetError) {
        try drain()
        guard fsync(fd) == 0 else { throw .io("cannot fsync \(path): \(String(cString: strerror(errno)))") }
    }

    /// Writes what is buffered and closes the file (without fsync; call `sync` first when it matters).
    public func close() throws(ParquetError) {
        try drain()
        let result = Glibc_close(fd)
        fd = -1
        guard result == 0 else { throw .io("cannot close \(path): \(String(cString: strerror(errno)))") }
    }

    private func drain() throws(ParquetError) {
        guard !buffer.isEmpty else { return }
        try withRawBytes(buffer) { (raw: UnsafeRawBufferPointer) throws(ParquetError) in try writeAll(raw) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) {
        guard fd >= 0 else { throw .io("\(path) is closed") }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc_write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        written += Int64(bytes.count)
    }
}

// `close` and `write` are shadowed by the methods above.
@inline(__always) private func Glibc_close(_ fd: Int32) -> Int32 { close(fd) }
@inline(__always) private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
