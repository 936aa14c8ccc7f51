@testable import PlantPlugins
import Testing

/// The framing against bytes worked out by hand from the Modbus specification.
@Suite struct ModbusFrameTests {
    @Test func readRequestIsTheSpecificationsExample() {
        // Read holding registers 107..109 of unit 17 (the specification's example is 108-110, 1-based).
        let bytes = ModbusFrame.readRequest(transaction: 0x0102, unit: 17, function: .readHoldingRegisters, start: 107, count: 3)
        #expect(bytes == [0x01, 0x02, 0x00, 0x00, 0x00, 0x06, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03])
    }

    @Test func responseWithRegisters() throws {
        let pdu: [UInt8] = [0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64]
        #expect(try ModbusFrame.readResponse(pdu: pdu[...], function: .readHoldingRegisters, count: 3) == .registers([555, 0, 100]))
    }

    @Test func exceptionResponse() throws {
        let pdu: [UInt8] = [0x84, 0x02]
        let response = try ModbusFrame.readResponse(pdu: pdu[...], function: .readInputRegisters, count: 1)
        #expect(response == .exception(ModbusException(code: 2)))
        #expect("\(ModbusException(code: 2))" == "illegal data address (exception 2)")
    }

    @Test(arguments: [
        ([UInt8](), "an empty response"),
        ([0x04, 0x02, 0, 1], "function code 4 in the response to function 3"),
        ([0x03, 0x04, 0, 1], "4 data bytes (PDU of 4) for 2 registers"),
        ([0x03, 0x02, 0, 1], "2 data bytes (PDU of 4) for 2 registers"),
        ([0x83], "an exception response of 1 bytes"),
    ])
    func malformedResponsesAreNamed(pdu: [UInt8], message: String) {
        #expect(throws: ModbusProtocolViolation.self) { try ModbusFrame.readResponse(pdu: pdu[...], function: .readHoldingRegisters, count: 2) }
        do {
            _ = try ModbusFrame.readResponse(pdu: pdu[...], function: .readHoldingRegisters, count: 2)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func headerLengthMustHoldAUnitAndAFunction() {
        #expect(ModbusFrame.header([0, 1, 0, 0, 0, 1, 1]) == nil)
        #expect(ModbusFrame.header([0, 1, 0, 0, 0, 255, 1]) == nil)
        #expect(ModbusFrame.header([0, 1, 0, 0, 0, 5, 9])?.pduLength == 4)
    }

    @Test func thirtyTwoBitValuesInBothWordOrders() {
        #expect(RegisterValue.decode(.uint32, words: [0x0001, 0x0002], wordOrder: .big) == .integer(65_538))
        #expect(RegisterValue.decode(.uint32, words: [0x0002, 0x0001], wordOrder: .little) == .integer(65_538))
        #expect(RegisterValue.decode(.int32, words: [0xFFFF, 0xFFFE], wordOrder: .big) == .integer(-2))
        #expect(RegisterValue.decode(.int16, words: [0x8000], wordOrder: .big) == .integer(-32_768))
        #expect(RegisterValue.decode(.float32, words: [0x4060, 0x0000], wordOrder: .big) == .float(3.5))
    }

    @Test func readPlanJoinsNeighboursAndSplitsAtGapsAnd125Registers() {
        typealias R = ModbusConfiguration.Register
        let plan = ReadPlan([R(name: "a", address: 10), R(name: "b", address: 12, type: .float32), R(name: "c", address: 40),
                             R(name: "d", address: 7, table: .input), R(name: "e", address: 100)]
                            + (0..<30).map { R(name: "f\($0)", address: 300 + $0 * 5) })
        #expect(plan.requests == [
            .init(function: .readHoldingRegisters, start: 10, count: 4),
            .init(function: .readHoldingRegisters, start: 40, count: 1),
            .init(function: .readHoldingRegisters, start: 100, count: 1),
            .init(function: .readHoldingRegisters, start: 300, count: 121),
            .init(function: .readHoldingRegisters, start: 425, count: 21),
            .init(function: .readInputRegisters, start: 7, count: 1),
        ])
    }
}
