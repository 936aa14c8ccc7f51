/// Modbus/TCP framing (Modbus Application Protocol v1.1b3, and Modbus Messaging on TCP/IP v1.0b),
/// written here: no Modbus library exists for Swift on this machine.
///
/// A request or response is an MBAP header — transaction id, protocol id 0, the length of what
/// follows, the unit id — then a PDU: a function code and its data. Registers are 16-bit, big-endian.
enum ModbusFrame {
    enum Function: UInt8, Sendable {
        case readHoldingRegisters = 0x03
        case readInputRegisters = 0x04
    }

    /// The most registers one read may ask for (the PDU is at most 253 bytes).
    static let maxRegistersPerRead = 125
    static let headerLength = 7

    /// A read request for `count` registers from `start`.
    static func readRequest(transaction: UInt16, unit: UInt8, function: Function, start: UInt16, count: UInt16) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12)
        append(transaction, to: &bytes)
        append(0, to: &bytes) // protocol: Modbus
        append(6, to: &bytes) // unit id + function + start + count
        bytes.append(unit)
        bytes.append(function.rawValue)
        append(start, to: &bytes)
        append(count, to: &bytes)
        return bytes
    }

    struct Header: Equatable {
        var transaction: UInt16
        var protocolID: UInt16
        /// Bytes after the length field: the unit id and the PDU.
        var length: UInt16
        var unit: UInt8

        var pduLength: Int { Int(length) - 1 }
    }

    /// Reads the 7-byte header; nil when `bytes` is shorter or the length cannot hold a PDU.
    static func header(_ bytes: [UInt8]) -> Header? {
        guard bytes.count >= headerLength else { return nil }
        let h = Header(transaction: word(bytes, 0), protocolID: word(bytes, 2), length: word(bytes, 4), unit: bytes[6])
        guard h.length >= 2, h.length <= 254 else { return nil }
        return h
    }

    /// What a response PDU says: the registers read, or the device's exception.
    enum Response: Equatable {
        case registers([UInt16])
        case exception(ModbusException)
    }

    /// Decodes the PDU of a response to a read of `count` registers with `function`.
    static func readResponse(pdu: ArraySlice<UInt8>, function: Function, count: Int) throws(ModbusProtocolViolation) -> Response {
        guard let code = pdu.first else { throw ModbusProtocolViolation("an empty response") }
        if code == function.rawValue | 0x80 {
            guard pdu.count == 2 else { throw ModbusProtocolViolation("an exception response of \(pdu.count) bytes") }
            return .exception(ModbusException(code: pdu[pdu.startIndex + 1]))
        }
        guard code == function.rawValue else {
            throw ModbusProtocolViolation("function code \(code) in the response to function \(function.rawValue)")
        }
        guard pdu.count >= 2 else { throw ModbusProtocolViolation("a response without its byte count") }
        let byteCount = Int(pdu[pdu.startIndex + 1])
        guard byteCount == count * 2, pdu.count == 2 + byteCount else {
            throw ModbusProtocolViolation("\(byteCount) data bytes (PDU of \(pdu.count)) for \(count) registers")
        }
        let data = Array(pdu.dropFirst(2))
        return .registers((0..<count).map { word(data, $0 * 2) })
    }

    static func word(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }

    private static func append(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }
}

/// An exception a device answered with instead of data.
struct ModbusException: Error, Equatable, CustomStringConvertible {
    var code: UInt8

    var description: String {
        let name = switch code {
        case 1: "illegal function"
        case 2: "illegal data address"
        case 3: "illegal data value"
        case 4: "server device failure"
        case 5: "acknowledge"
        case 6: "server device busy"
        case 10: "gateway path unavailable"
        case 11: "gateway target device failed to respond"
        default: "exception"
        }
        return "\(name) (exception \(code))"
    }
}

/// Bytes that are not Modbus/TCP, or not the answer to what was asked.
struct ModbusProtocolViolation: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
