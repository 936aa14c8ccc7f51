#if canImport(Glibc)
import Glibc
#endif

/// Whether a test server accepts TCP connections on 127.0.0.1:`port`. A connect, not a child
/// process such as `pg_isready`: while a long-running child (scripts/pg-restart.sh) runs,
/// Foundation's `Process` on Linux may report another child's exit only once that one ends.
public enum TCPProbe {
    public static func listening(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
