import ConnectorKit
import Connectors
import Foundation
import Logging

/// `bench smb`: the SMB3 Samba server of scripts/smb-start.sh, against `smbclient -c 'get …'`.
func smbBenchmark(sizeMiB: Int) async throws {
    let base = ProcessInfo.processInfo.environment["SLUICE_SMB_DIR"] ?? "/tmp/sluice-test-smb"
    let folder = "sluice-bench"
    var configuration = SMBConfiguration(url: "smb://127.0.0.1:4453/logs/\(folder)")
    configuration.username = "sluicetest"
    configuration.password = Secret("testpw")
    let context = PluginBuildContext(pipeline: "bench", configFile: "bench", baseDirectory: "/tmp", stateDirectory: "/tmp", logger: Logger(label: "bench"))
    let auth = NSTemporaryDirectory() + "sluice-bench-smb-auth"
    try "username = sluicetest\npassword = testpw\n".write(toFile: auth, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: auth) }
    func source(_ encryption: SMBEncryption) -> () throws -> SMBFileSystem {
        var c = configuration
        c.encryption = encryption
        return { try c.makeSource(context: context).fileSystem }
    }
    func smbclient(_ protection: String) -> (String, String, [String]) {
        ("smbclient get --client-protection=\(protection)", "/usr/bin/smbclient",
         ["//127.0.0.1/logs", "-p", "4453", "-A", auth, "--client-protection=\(protection)", "-c", "get \(folder)/big.csv /dev/null"])
    }
    try await RemotePullBenchmark(
        name: "smb", localFolder: "\(base)/smb3/logs/\(folder)",
        comparisons: [
            .init(label: "encrypted (Sluice's default, encryption = \"auto\": SMB3 AES)", makeFileSystem: source(.auto), reference: smbclient("encrypt")),
            .init(label: "unencrypted (encryption = \"off\"; smbclient's default)", makeFileSystem: source(.off), reference: smbclient("off")),
        ],
        fileSystemBytesRead: { await $0.bytesRead }, sizeMiB: sizeMiB
    ).run()
}
