import ConnectorKit
import Foundation

/// `type = "modbus"`: polls registers of one Modbus/TCP device (a PLC, a meter, a drive).
public struct ModbusConfiguration: PluginConfiguration {
    /// `host:port` of the device (Modbus's port is 502).
    public var address: String
    /// The unit (slave) id: 1 for most devices, the RS-485 address behind a gateway.
    public var unit: Int = 1
    /// Time between two polls.
    public var interval = ConfigDuration(seconds: 1)
    /// Polls per run; the daemon's schedule starts the next run.
    public var samples: Int = 60
    /// Polls per batch handed to the sink.
    public var batch: Int = 10
    /// How long one read may wait for the device.
    public var timeout = ConfigDuration(seconds: 2)
    /// For 32-bit values: `"big"` (high word first, the Modbus convention) or `"little"`.
    public var wordOrder: WordOrder = .big
    public var registers: [Register]

    public enum WordOrder: String, ConfigEnum { case big, little }

    /// One value: where it is and how its registers read.
    public struct Register: Decodable, Sendable, Equatable {
        public enum Table: String, ConfigEnum { case holding, input }
        public enum ValueType: String, ConfigEnum {
            case int16, uint16, int32, uint32, float32
            var width: Int { self == .int16 || self == .uint16 ? 1 : 2 }
        }

        /// The column name.
        public var name: String
        /// The register number as the request sends it (0-based; register 40001 of the manual is 0).
        public var address: Int
        public var type: ValueType = .uint16
        public var table: Table = .holding
        /// Multiplies the raw value (e.g. 0.1 for tenths of a degree); the column is then a float.
        public var scale: Double?

        enum CodingKeys: String, CodingKey { case name, address, type, table, scale }

        public init(name: String, address: Int, type: ValueType = .uint16, table: Table = .holding, scale: Double? = nil) {
            self.name = name
            self.address = address
            self.type = type
            self.table = table
            self.scale = scale
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            address = try c.decode(Int.self, forKey: .address)
            type = try c.decodeIfPresent(ValueType.self, forKey: .type) ?? .uint16
            table = try c.decodeIfPresent(Table.self, forKey: .table) ?? .holding
            scale = try c.decodeIfPresent(Double.self, forKey: .scale)
        }

        var isFloat: Bool { type == .float32 || scale != nil }
    }

    enum CodingKeys: String, CodingKey {
        case address, unit, interval, samples, batch, timeout, registers
        case wordOrder = "word_order"
    }

    public init(address: String, unit: Int = 1, registers: [Register]) {
        self.address = address
        self.unit = unit
        self.registers = registers
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(String.self, forKey: .address)
        unit = try c.decodeIfPresent(Int.self, forKey: .unit) ?? unit
        interval = try c.decodeIfPresent(ConfigDuration.self, forKey: .interval) ?? interval
        samples = try c.decodeIfPresent(Int.self, forKey: .samples) ?? samples
        batch = try c.decodeIfPresent(Int.self, forKey: .batch) ?? batch
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
        wordOrder = try c.decodeIfPresent(WordOrder.self, forKey: .wordOrder) ?? wordOrder
        registers = try c.decode([Register].self, forKey: .registers)
    }

    /// The host and port of `address`.
    var hostAndPort: (host: String, port: UInt16)? {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]), port > 0 else { return nil }
        let host = String(address[..<colon]).trimmingCharacters(in: ["[", "]"])
        return host.isEmpty ? nil : (host, port)
    }

    public func validate() throws {
        if hostAndPort == nil { throw ConfigIssue(key: "address", message: "expected host:port, e.g. \"10.1.4.30:502\"") }
        if !(0...255).contains(unit) { throw ConfigIssue(key: "unit", message: "a unit id is 0 to 255") }
        if interval.seconds <= 0 { throw ConfigIssue(key: "interval", message: "must be more than 0s") }
        if timeout.seconds <= 0 { throw ConfigIssue(key: "timeout", message: "must be more than 0s") }
        if samples < 1 { throw ConfigIssue(key: "samples", message: "at least 1 poll per run") }
        if !(1...10_000).contains(batch) { throw ConfigIssue(key: "batch", message: "between 1 and 10000 polls") }
        if registers.isEmpty { throw ConfigIssue(key: "registers", message: "name at least one register") }
        var seen: Set<String> = ["sample", "polled_at"]
        for (i, r) in registers.enumerated() {
            if !seen.insert(r.name).inserted {
                throw ConfigIssue(key: ["registers", "\(i)", "name"], message: "'\(r.name)' is taken (sample and polled_at are the source's own columns)")
            }
            if r.address < 0 || r.address + r.type.width > 65_536 {
                throw ConfigIssue(key: ["registers", "\(i)", "address"], message: "registers are numbered 0 to 65535")
            }
        }
    }

    public static let sample = """
        type = "modbus"
        address = "10.1.4.30:502"
        unit = 1
        interval = "1s"
        samples = 60
        registers = [
          { name = "parts", address = 0, type = "uint32" },
          { name = "temperature", address = 2, type = "int16", scale = 0.1 },
          { name = "pressure", address = 3, type = "float32" },
          { name = "state", address = 0, table = "input" },
        ]
        """
}
