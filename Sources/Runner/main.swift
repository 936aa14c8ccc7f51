import SluiceCLI

// The `sluice` program: the command line with the built-in plugins. A package with plugins of
// its own does the same with `SluiceCLI.main(plugins:)` (examples/custom-connector).
await SluiceCLI.main()
