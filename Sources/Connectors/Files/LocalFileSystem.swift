#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConnectorKit

/// A local directory as a `FileSystem`. Symlinks are reported as such (never followed while
/// walking), which keeps symlink loops out of the walk.
public struct LocalFileSystem: FileSystem {
    public let root: String

    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    public var displayName: String { root }

    func absolute(_ path: String) -> String { path.isEmpty ? root : root + "/" + path }

    public func listDirectory(_ path: String) async throws -> [FileEntry] {
        let dirPath = absolute(path)
        guard let dir = opendir(dirPath) else { throw error(errno, path: path.isEmpty ? "." : path, "cannot list directory \(dirPath)") }
        defer { closedir(dir) }
        var entries: [FileEntry] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let rel = path.isEmpty ? name : path + "/" + name
            if let e = try lstatEntry(rel) { entries.append(e) }
        }
        return entries
    }

    private func lstatEntry(_ rel: String) throws -> FileEntry? {
        var st = posixStatBuffer()
        if lstat(absolute(rel), &st) != 0 {
            if errno == ENOENT { return nil }
            throw error(errno, path: rel, "cannot stat \(absolute(rel))")
        }
        return entry(rel, st)
    }

    private func entry(_ rel: String, _ st: posixStatBuffer) -> FileEntry {
        let kind: FileEntry.Kind
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        return FileEntry(path: rel, kind: kind, size: Int64(st.st_size), modified: mtime)
    }

    public func stat(_ path: String) async throws -> FileEntry? {
        var st = posixStatBuffer()
        if posixStat(absolute(path), &st) != 0 {
            if errno == ENOENT { return nil }
            throw error(errno, path: path, "cannot stat \(absolute(path))")
        }
        return entry(path, st)
    }

    public func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        let fd = open(absolute(path), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, path: path, "cannot open \(absolute(path))") }
        defer { close(fd) }
        // Read into uninitialised storage: zero-filling each chunk first cost a pass over every byte.
        var failure: Int32 = 0
        let out = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            var done = 0
            while done < length {
                let n = pread(fd, buffer.baseAddress! + done, length - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                done += n
            }
            count = done
        }
        if failure != 0 { throw error(failure, path: path, "cannot read \(absolute(path))") }
        return out
    }

    public func remove(_ path: String) async throws {
        guard unlink(absolute(path)) == 0 else { throw error(errno, path: path, "cannot delete \(absolute(path))") }
    }

    public func move(_ path: String, intoDirectory directory: String) async throws {
        let dir = directory.hasPrefix("/") ? directory : absolute(directory)
        try FileUtilities.makeDirectories(dir, mode: 0o755)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard rename(absolute(path), dir + "/" + name) == 0 else {
            throw error(errno, path: path, "cannot move \(absolute(path)) to \(dir)")
        }
    }

    private func error(_ code: Int32, path: String, _ what: String) -> FileSystemError {
        let kind: FileSystemError.Kind = switch code {
        case ENOENT, ENOTDIR: .notFound
        case EACCES, EPERM: .permissionDenied
        default: .other
        }
        return FileSystemError(kind, path: path, "\(what): \(FileUtilities.errnoText(code))")
    }
}

// File-scope helpers: inside `LocalFileSystem` the name `stat` means its own method.
package typealias posixStatBuffer = stat

private func posixStat(_ path: String, _ st: inout posixStatBuffer) -> Int32 { stat(path, &st) }
