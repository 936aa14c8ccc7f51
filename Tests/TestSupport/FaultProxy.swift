#if canImport(Glibc)
import Glibc
#endif
import ConnectorKit
import Foundation


/// A TCP proxy for fault tests, on 127.0.0.1 only, between a client under test and a real server
/// (PostgreSQL, Samba, sshd). It forwards bytes both ways and, when told, cuts every connection
/// with a reset, stalls them (keeps the sockets open and forwards nothing, like a black hole), or
/// slows them; a fault can be armed to fire after N bytes or T seconds. It also counts the bytes
/// that really crossed it, so tests measure traffic on the wire rather than what a client reports.
public final class FaultProxy: Sendable {
    public enum Mode: Sendable, Equatable {
        case pass
        /// Nothing is forwarded; sockets stay open (the peers see silence, not an error).
        case stall
        /// At most this many bytes per second in each direction.
        case slow(bytesPerSecond: Int)
    }

    public enum Fault: Sendable { case cut, stall }

    private struct State {
        var mode: Mode = .pass
        var generation = 0 // connections of an older generation are cut
        var refuse = false
        var upstream: Int64 = 0 // client → server bytes
        var downstream: Int64 = 0 // server → client bytes
        var armed: (fault: Fault, atUpstreamBytes: Int64)?
        var armedDown: (fault: Fault, atDownstreamBytes: Int64)?
        var watched: [UInt8] = []
        var watchTail: [UInt8] = []
        var seen = false
        var pattern: (fault: Fault, bytes: [UInt8], occurrence: Int, forwardMatch: Bool)?
        var tail: [UInt8] = []
        var fired = 0
        var connections = 0
        var accepted = 0
        var stopped = false
    }

    public let port: Int
    public let upstreamPort: Int
    private let listener: Int32
    private let state = Locked(State())

    /// Listens on an ephemeral port of 127.0.0.1 and forwards to 127.0.0.1:`upstreamPort`.
    public init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw ProxyError("bind/listen: \(String(cString: strerror(errno)))") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listener = fd
        let t = Thread { [self] in acceptLoop() }
        t.name = "fault-proxy-accept"
        t.start()
    }

    /// Stops accepting and cuts every connection.
    public func stop() {
        state.withLock { $0.stopped = true; $0.generation += 1 }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    deinit { close(listener) }

    // MARK: Faults

    /// Resets every open connection now (the peers get ECONNRESET). New connections still pass.
    public func cutAll() { state.withLock { $0.generation += 1; $0.armed = nil } }

    public func setMode(_ mode: Mode) { state.withLock { $0.mode = mode } }

    /// New connections are accepted and closed at once (a server that is down behind a router).
    public func setRefusing(_ refuse: Bool) { state.withLock { $0.refuse = refuse } }

    /// Fires `fault` once the client has sent `bytes` more bytes through the proxy.
    public func arm(_ fault: Fault, afterUpstreamBytes bytes: Int64) {
        state.withLock { $0.armed = (fault, $0.upstream + bytes) }
    }

    /// Fires `fault` at the `occurrence`-th time the client sends `text` (e.g. a statement):
    /// before the server gets it, or, with `forwardingMatch`, right after (the server acts on it,
    /// the client never hears the answer: the ambiguous case).
    public func arm(_ fault: Fault, whenUpstreamContains text: String, occurrence: Int = 1, forwardingMatch: Bool = false) {
        state.withLock { $0.pattern = (fault, Array(text.utf8), occurrence, forwardingMatch); $0.tail = [] }
    }

    /// Faults fired so far.
    public var faultsFired: Int { state.withLock { $0.fired } }

    /// True while a fault is armed and has not fired.
    public var isArmed: Bool { state.withLock { $0.armed != nil || $0.armedDown != nil || $0.pattern != nil } }

    /// Fires `fault` once the server has sent `bytes` more bytes through the proxy.
    public func arm(_ fault: Fault, afterDownstreamBytes bytes: Int64) {
        state.withLock { $0.armedDown = (fault, $0.downstream + bytes) }
    }

    /// Watches the server → client stream for `text` in clear (e.g. to show that a transfer is
    /// encrypted, or not); `seenInClear` tells whether it went by.
    public func watchDownstream(for text: String) {
        state.withLock { $0.watched = Array(text.utf8); $0.watchTail = []; $0.seen = false }
    }

    public var seenInClear: Bool { state.withLock { $0.seen } }

    /// Fires `fault` after `seconds`.
    public func arm(_ fault: Fault, afterSeconds seconds: Double) {
        Thread.detachNewThread { [self] in
            Thread.sleep(forTimeInterval: seconds)
            fire(fault)
        }
    }

    private func fire(_ fault: Fault) {
        state.withLock { $0.fired += 1 }
        switch fault {
        case .cut: cutAll()
        case .stall: setMode(.stall)
        }
    }

    /// Bytes that crossed the proxy: client → server, server → client.
    public var bytes: (upstream: Int64, downstream: Int64) { state.withLock { ($0.upstream, $0.downstream) } }
    public func resetCounters() { state.withLock { $0.upstream = 0; $0.downstream = 0 } }
    /// Connections open now, and accepted since the start.
    public var connections: (open: Int, accepted: Int) { state.withLock { ($0.connections, $0.accepted) } }

    // MARK: Forwarding

    private static func loopback(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let (refuse, stopped) = state.withLock { ($0.refuse, $0.stopped) }
            if stopped { close(client); return }
            if refuse { Self.reset(client); continue }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(port: upstreamPort)
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if ok != 0 { close(server); Self.reset(client); continue }
            let generation = state.withLock { s -> Int in s.connections += 1; s.accepted += 1; return s.generation }
            let t = Thread { [self] in pump(client, server, generation: generation) }
            t.name = "fault-proxy-pump"
            t.start()
        }
    }

    /// Closes with SO_LINGER 0: the peer gets a reset, not an orderly end.
    private static func reset(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    private func pump(_ client: Int32, _ server: Int32, generation: Int) {
        defer {
            Self.reset(client)
            Self.reset(server)
            state.withLock { $0.connections -= 1 }
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
        while true {
            let (mode, current) = state.withLock { ($0.mode, $0.generation) }
            if current != generation { return }
            if mode == .stall {
                Thread.sleep(forTimeInterval: 0.02)
                continue
            }
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, 20)
            if ready < 0 && errno != EINTR { return }
            if ready <= 0 { continue }
            for (i, from) in [client, server].enumerated() where fds[i].revents != 0 {
                let to = i == 0 ? server : client
                let limit: Int
                if case let .slow(rate) = mode { limit = max(1, min(buffer.count, rate / 50)) } else { limit = buffer.count }
                let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress!, limit) }
                if n <= 0 { return }
                // A fault armed on upstream bytes fires in the middle of this chunk: forward only
                // the bytes before the trigger point.
                var forward = n
                var fault: Fault?
                state.withLock { s in
                    if i == 0, let armed = s.armed, s.upstream + Int64(n) >= armed.atUpstreamBytes {
                        forward = Int(max(0, armed.atUpstreamBytes - s.upstream))
                        fault = armed.fault
                        s.armed = nil
                    }
                    if i == 1, let armed = s.armedDown, s.downstream + Int64(n) >= armed.atDownstreamBytes {
                        forward = Int(max(0, armed.atDownstreamBytes - s.downstream))
                        fault = armed.fault
                        s.armedDown = nil
                    }
                    if i == 0, fault == nil, let p = s.pattern, let cut = Self.match(p, tail: &s.tail, chunk: buffer, count: n, remaining: &s.pattern!.occurrence) {
                        forward = cut
                        fault = p.fault
                        s.pattern = nil
                    }
                    if i == 0 { s.upstream += Int64(forward) } else { s.downstream += Int64(forward) }
                    if i == 1, !s.watched.isEmpty, !s.seen {
                        let joined = s.watchTail + buffer[0..<forward]
                        let k = s.watched.count
                        if joined.count >= k, (0...(joined.count - k)).contains(where: { joined[$0] == s.watched[0] && Array(joined[$0..<($0 + k)]) == s.watched }) {
                            s.seen = true
                        }
                        s.watchTail = Array(joined.suffix(k - 1))
                    }
                }
                if forward > 0 && !writeAll(to, buffer, forward) { return }
                if let fault {
                    fire(fault)
                    if fault == .cut { return }
                }
                if case let .slow(rate) = mode { Thread.sleep(forTimeInterval: Double(n) / Double(max(1, rate))) }
            }
        }
    }

    /// Looks for the armed pattern in `chunk` (continuing a match begun in `tail`); when its
    /// last wanted occurrence is found, returns how many bytes of the chunk to forward.
    private static func match(_ p: (fault: Fault, bytes: [UInt8], occurrence: Int, forwardMatch: Bool), tail: inout [UInt8],
                              chunk: [UInt8], count: Int, remaining: inout Int) -> Int? {
        let joined = tail + chunk[0..<count]
        let k = p.bytes.count
        var i = 0
        while i + k <= joined.count {
            if joined[i] == p.bytes[0] && Array(joined[i..<(i + k)]) == p.bytes {
                remaining -= 1
                if remaining == 0 {
                    let end = p.forwardMatch ? i + k : i
                    return max(0, end - tail.count)
                }
                i += k
            } else {
                i += 1
            }
        }
        tail = Array(joined.suffix(k - 1))
        return nil
    }

    private func writeAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var done = 0
        while done < count {
            let w = buffer.withUnsafeBytes { send(fd, $0.baseAddress! + done, count - done, Int32(MSG_NOSIGNAL)) }
            if w < 0 { if errno == EINTR { continue }; return false }
            done += w
        }
        return true
    }
}

public struct ProxyError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
