import ConnectorKit
import Connectors
import Foundation
import Logging

/// `bench sftp`: the sshd of scripts/ssh-start.sh (127.0.0.1:2222), against OpenSSH's `sftp` get.
func sftpBenchmark(sizeMiB: Int) async throws {
    let base = ProcessInfo.processInfo.environment["SLUICE_SSH_DIR"] ?? "/tmp/sluice-test-ssh"
    let folder = "\(base)/data/sluice-bench"
    var configuration = SFTPConfiguration(url: "sftp://sluicetest@127.0.0.1:2222\(folder)")
    configuration.privateKey = "\(base)/client/id_ed25519"
    configuration.knownHosts = "\(base)/client/known_hosts"
    let context = PluginBuildContext(pipeline: "bench", configFile: "bench", baseDirectory: "/tmp", stateDirectory: "/tmp", logger: Logger(label: "bench"))
    let batch = NSTemporaryDirectory() + "sluice-bench-sftp-batch"
    try "get \(folder)/big.csv /dev/null\n".write(toFile: batch, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: batch) }
    func sftp(_ label: String, _ options: [String]) -> (String, String, [String]) {
        (label, "/usr/bin/sftp", ["-q", "-b", batch, "-P", "2222", "-i", "\(base)/client/id_ed25519",
                                  "-o", "UserKnownHostsFile=\(base)/client/known_hosts", "-o", "BatchMode=yes"] + options + ["sluicetest@127.0.0.1"])
    }
    let make = { try configuration.makeSource(context: context).fileSystem }
    try await RemotePullBenchmark(
        name: "sftp", localFolder: folder,
        comparisons: [
            .init(label: "OpenSSH sftp with its defaults (chacha20-poly1305)", makeFileSystem: make, reference: sftp("sftp get", [])),
            .init(label: "same cipher and MAC as libssh2 negotiates (aes128-ctr, hmac-sha2-256)", makeFileSystem: make,
                  reference: sftp("sftp get -c aes128-ctr", ["-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha2-256"])),
        ],
        fileSystemBytesRead: { await $0.bytesRead }, sizeMiB: sizeMiB
    ).run()
}
