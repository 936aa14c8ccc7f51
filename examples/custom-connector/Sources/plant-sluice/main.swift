import PlantPlugins
import SluiceCLI

// This plant's `sluice`: every command and the daemon, with the built-in plugins plus two of its own.
await SluiceCLI.main(plugins: [.modbus, .limits])
