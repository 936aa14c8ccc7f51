import ConnectorKit

extension PluginDescriptor {
    /// The `modbus` source. `producesBytes: false`: it emits records, so no decoder follows it.
    public static let modbus: PluginDescriptor = .source("modbus", ModbusConfiguration.self,
                                                         summary: "Registers of a Modbus/TCP device (PLC, meter, drive), polled", producesBytes: false) { c, _ in
        ModbusSource(c)
    }
}
