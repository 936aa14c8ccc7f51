import ConnectorKit
import Glibc

/// A Modbus/TCP connection to one device: connect, read registers, close.
///
/// The socket calls block (bounded by `timeout` through `poll`), so the actor runs on a thread
/// of its own (`ThreadExecutor`), never on Swift's shared pool; `close()` ends that thread.
actor ModbusClient {
    private let executor: ThreadExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let host: String
    let port: UInt16
    let unit: UInt8
    let timeout: Double
    private var socket: Int32 = -1
    private var transaction: UInt16 = 0

    init(host: String, port: UInt16, unit: UInt8, timeout: Double) {
        self.host = host
        self.port = port
        self.unit = unit
        self.timeout = timeout
        executor = ThreadExecutor(name: "modbus \(host):\(port)")
    }

    var endpoint: String { "\(host):\(port)" }

    /// Reads `count` registers from `start`; connects first if needed. A timeout, a reset or bytes
    /// that are not an answer close the connection, so the next call starts clean.
    func read(_ function: ModbusFrame.Function, start: UInt16, count: Int) throws(ModbusError) -> [UInt16] {
        if socket < 0 { try connect() }
        transaction &+= 1
        let request = ModbusFrame.readRequest(transaction: transaction, unit: unit, function: function, start: start, count: UInt16(count))
        let result = Result { () throws(ModbusError) in try exchange(request, function: function, start: start, count: count) }
        if case let .failure(error) = result, error.kind.breaksTheConnection { closeSocket() }
        return try result.get()
    }

    private func exchange(_ request: [UInt8], function: ModbusFrame.Function, start: UInt16, count: Int) throws(ModbusError) -> [UInt16] {
        let deadline = now() + timeout
        try send(request, deadline: deadline)
        let head = try receive(ModbusFrame.headerLength, deadline: deadline)
        guard let header = ModbusFrame.header(head), header.protocolID == 0 else {
            throw ModbusError(.protocolViolation, endpoint, "a reply that is not Modbus/TCP (\(head.prefix(8).map { String($0, radix: 16) }.joined(separator: " ")))")
        }
        guard header.transaction == transaction, header.unit == unit else {
            throw ModbusError(.protocolViolation, endpoint, "the reply is to transaction \(header.transaction) of unit \(header.unit), not \(transaction) of unit \(unit)")
        }
        let pdu = try receive(header.pduLength, deadline: deadline)
        let response: ModbusFrame.Response
        do { response = try ModbusFrame.readResponse(pdu: pdu[...], function: function, count: count) } catch {
            throw ModbusError(.protocolViolation, endpoint, error.description)
        }
        switch response {
        case let .registers(values): return values
        case let .exception(e):
            throw ModbusError(.exception(e.code), endpoint, "unit \(unit) refused to read \(count) register(s) at \(start): \(e)")
        }
    }

    func close() {
        closeSocket()
        executor.shutdown()
    }

    private func closeSocket() {
        if socket >= 0 { _ = systemClose(socket) }
        socket = -1
    }

    private func connect() throws(ModbusError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw ModbusError(.notConnected, endpoint, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        let fd = Glibc.socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { throw ModbusError(.notConnected, endpoint, "socket: \(errnoText())") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        if Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
            let text = errnoText()
            _ = systemClose(fd)
            throw ModbusError(.notConnected, endpoint, "cannot connect: \(text)")
        }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&pfd, 1, Int32(timeout * 1000))
        var soError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
        guard ready == 1, soError == 0 else {
            _ = systemClose(fd)
            let reason = ready == 0 ? "no answer within \(timeout) s" : String(cString: strerror(soError))
            throw ModbusError(ready == 0 ? .timedOut : .notConnected, endpoint, "cannot connect: \(reason)")
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        socket = fd
    }

    private func send(_ bytes: [UInt8], deadline: Double) throws(ModbusError) {
        var sent = 0
        while sent < bytes.count {
            try wait(for: Int16(POLLOUT), deadline: deadline)
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw ModbusError(.notConnected, endpoint, "connection lost while sending: \(errnoText())")
            }
            sent += n
        }
    }

    private func receive(_ count: Int, deadline: Double) throws(ModbusError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            try wait(for: Int16(POLLIN), deadline: deadline)
            let n = bytes.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + got, count - got, 0) }
            if n == 0 { throw ModbusError(.notConnected, endpoint, "the device closed the connection") }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw ModbusError(.notConnected, endpoint, "connection lost while reading: \(errnoText())")
            }
            got += n
        }
        return bytes
    }

    private func wait(for events: Int16, deadline: Double) throws(ModbusError) {
        let left = deadline - now()
        var pfd = pollfd(fd: socket, events: events, revents: 0)
        if left <= 0 || poll(&pfd, 1, Int32(max(1, left * 1000))) == 0 {
            throw ModbusError(.timedOut, endpoint, "no answer within \(timeout) s")
        }
    }

    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private func errnoText() -> String { String(cString: strerror(errno)) }
}

private func systemClose(_ fd: Int32) -> Int32 { close(fd) }

/// Why a read failed, with the device it was for.
struct ModbusError: Error, CustomStringConvertible {
    enum Kind: Equatable {
        case notConnected, timedOut, protocolViolation
        /// The device answered with a Modbus exception (its code).
        case exception(UInt8)

        /// After a timeout, a reset or stray bytes the stream is out of step: reconnect. An
        /// exception is an answer, and the connection stays usable.
        var breaksTheConnection: Bool { if case .exception = self { false } else { true } }
    }

    var kind: Kind
    var endpoint: String
    var message: String

    init(_ kind: Kind, _ endpoint: String, _ message: String) {
        self.kind = kind
        self.endpoint = endpoint
        self.message = message
    }

    var description: String { "modbus \(endpoint): \(message)" }
}
