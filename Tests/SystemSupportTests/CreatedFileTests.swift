import Foundation
import SystemPackage
import TestSupport
import Testing

@testable import SystemSupport


private func mode(of path: String) -> mode_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode : nil
}

private func write(_ file: CreatedFile, _ bytes: [UInt8]) throws {
    _ = try bytes.withUnsafeBytes { try file.descriptor.writeAll($0) }
}

@Suite struct CreatedFileTests {
    @Test func aNewFileIsPrivateExclusiveAndItsNameIsRemovedWhileItIsOurs() throws {
        let scratch = try ScratchDirectory("new")
        defer { scratch.remove() }
        let previous = umask(0o022)
        defer { umask(previous) }
        let file = try CreatedFile.create(at: "\(scratch.path)/pages.bin")
        defer { try? file.descriptor.close() }
        let entry = try #require(file.entry)
        entry.checkInvariants()
        try write(file, [1, 2, 3])
        #expect(mode(of: "\(scratch.path)/pages.bin").map { $0 & 0o7777 } == 0o600)
        #expect(scratch.contents("pages.bin") == [1, 2, 3])
        let identity = try FileIdentity(of: file.descriptor.rawValue)
        #expect(entry.namesOurFile && entry.identity == identity)
        #expect(entry.remove() == .removed)
        #expect(scratch.names == [])
        #expect(entry.remove() == .alreadyGone, "once only")
    }

    @Test(arguments: [ExistingFilePolicy.refuse, .refuseNonEmpty, .replaceRegularFile])
    func aSymbolicLinkPlantedAtThePathIsNeverFollowedNorRemoved(policy: ExistingFilePolicy) throws {
        let scratch = try ScratchDirectory("link")
        defer { scratch.remove() }
        let target = try scratch.file("secret-target", [9, 9])
        #expect(symlink(target, "\(scratch.path)/out") == 0)
        #expect(symlink("\(scratch.path)/nowhere", "\(scratch.path)/dangling") == 0)
        for name in ["out", "dangling"] {
            #expect(throws: FileCreationError.symbolicLink(path: "\(scratch.path)/\(name)")) {
                _ = try CreatedFile.create(at: "\(scratch.path)/\(name)", existing: policy)
            }
            #expect(mode(of: "\(scratch.path)/\(name)").map { $0 & S_IFMT } == S_IFLNK, "the link is left as it was")
        }
        #expect(scratch.contents("secret-target") == [9, 9])
        #expect(scratch.names == ["dangling", "out", "secret-target"], "no file was made through the dangling link")
    }

    @Test func aFileHoldingDataIsRefusedUnlessReplacingIsAsked() throws {
        let scratch = try ScratchDirectory("data")
        defer { scratch.remove() }
        let path = try scratch.file("dump", [5, 5, 5])
        #expect(link(path, "\(scratch.path)/other-name") == 0)
        #expect(throws: FileCreationError.notEmpty(path: path, bytes: 3)) { _ = try CreatedFile.create(at: path) }
        #expect(throws: FileCreationError.alreadyExists(path: path)) { _ = try CreatedFile.create(at: path, existing: .refuse) }
        #expect(scratch.contents("dump") == [5, 5, 5])
        // --force: a new file takes the name; whoever holds the old one (another link) keeps it.
        let file = try CreatedFile.create(at: path, existing: .replaceRegularFile)
        defer { try? file.descriptor.close() }
        try write(file, [1])
        #expect(scratch.contents("dump") == [1])
        #expect(scratch.contents("other-name") == [5, 5, 5])
        #expect(mode(of: path).map { $0 & 0o777 } == 0o600)
    }

    @Test func anEmptyFileOfThisUserIsReplacedButNotUnderRefuse() throws {
        let scratch = try ScratchDirectory("empty")
        defer { scratch.remove() }
        let path = try scratch.file("made-by-mktemp", [])
        #expect(chmod(path, 0o644) == 0)
        #expect(throws: FileCreationError.alreadyExists(path: path)) { _ = try CreatedFile.create(at: path, existing: .refuse) }
        let file = try CreatedFile.create(at: path)
        defer { try? file.descriptor.close() }
        #expect(mode(of: path).map { $0 & 0o777 } == 0o600, "a new file, not the old one's mode")
    }

    @Test func anEmptyFileOfAnotherUserIsRefused() throws {
        guard geteuid() == 0 else {
            CIGate.unavailable("root, to give a file to another user")
            return
        }
        let scratch = try ScratchDirectory("other-user")
        defer { scratch.remove() }
        let path = try scratch.file("theirs", [])
        #expect(chown(path, 65534, 65534) == 0)
        #expect(throws: FileCreationError.ownedByAnotherUser(path: path, uid: 65534)) { _ = try CreatedFile.create(at: path) }
        #expect(mode(of: path) != nil)
        let forced = try CreatedFile.create(at: path, existing: .replaceRegularFile)
        try forced.descriptor.close()
    }

    @Test func directoriesAndPipesAreNeverReplaced() throws {
        let scratch = try ScratchDirectory("kinds")
        defer { scratch.remove() }
        #expect(mkdir("\(scratch.path)/dir", 0o700) == 0)
        #expect(mkfifo("\(scratch.path)/pipe", 0o600) == 0)
        #expect(throws: FileCreationError.notARegularFile(path: "\(scratch.path)/dir", kind: "directory")) {
            _ = try CreatedFile.create(at: "\(scratch.path)/dir", existing: .replaceRegularFile)
        }
        #expect(throws: FileCreationError.notARegularFile(path: "\(scratch.path)/pipe", kind: "pipe")) {
            _ = try CreatedFile.create(at: "\(scratch.path)/pipe", existing: .replaceRegularFile)
        }
        #expect(scratch.names == ["dir", "pipe"])
    }

    @Test(arguments: ["", "/var/tmp/", "/var/tmp/..", "."])
    func pathsThatNameNoFileAreRefused(path: String) {
        #expect(throws: FileCreationError.invalidPath(path)) { _ = try CreatedFile.create(at: path) }
    }

    @Test func aMissingDirectoryIsASystemErrorThatNamesIt() {
        #expect(
            throws: FileCreationError.system(path: "/nonexistent-uswap", operation: "open the directory", errno: .noSuchFileOrDirectory)
        ) { _ = try CreatedFile.create(at: "/nonexistent-uswap/file") }
    }

    @Test func removalLeavesAFileThatTookTheNameAlone() throws {
        let scratch = try ScratchDirectory("replaced")
        defer { scratch.remove() }
        let file = try CreatedFile.create(at: "\(scratch.path)/f")
        defer { try? file.descriptor.close() }  // held open: its inode cannot be reused
        let entry = try #require(file.entry)
        #expect(rename("\(scratch.path)/f", "\(scratch.path)/moved") == 0)
        _ = try scratch.file("f", [4])
        #expect(!entry.namesOurFile)
        #expect(entry.remove() == .replacedByAnotherFile)
        #expect(scratch.contents("f") == [4])
        #expect(scratch.names == ["f", "moved"])
    }

    @Test func anUnnamedFileLeavesNothingInItsDirectory() throws {
        let scratch = try ScratchDirectory("unnamed")
        defer { scratch.remove() }
        let file = try CreatedFile.unnamed(in: scratch.path)
        #expect(file.entry == nil)
        try write(file, [1, 2])
        #expect(scratch.names == [])
        var info = stat()
        #expect(fstat(file.descriptor.rawValue, &info) == 0 && info.st_size == 2 && info.st_nlink == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        try file.descriptor.close()
        #expect(throws: FileCreationError.system(path: "/nonexistent-uswap", operation: "make an unnamed file in", errno: .noSuchFileOrDirectory)) {
            _ = try CreatedFile.unnamed(in: "/nonexistent-uswap")
        }
    }

    @Test func anEntryForAnOpenFileIsCheckedAgainstTheName() throws {
        let scratch = try ScratchDirectory("entry")
        defer { scratch.remove() }
        let path = try scratch.file("opened", [1])
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        let entry = try OwnedFileEntry(path: path, naming: fd)
        #expect(entry.namesOurFile)
        let other = try scratch.file("other", [2])
        #expect(throws: FileCreationError.self) { _ = try OwnedFileEntry(path: other, naming: fd) }
        #expect(entry.remove() == .removed && scratch.names == ["other"])
    }

    @Test func messagesSayWhatToDo() {
        #expect(FileCreationError.notEmpty(path: "/x", bytes: 3).description.contains("--force"))
        #expect(FileCreationError.symbolicLink(path: "/x").description.contains("never"))
        #expect(FileCreationError.unnamedFilesUnsupported(directory: "/d", errno: .notSupported).description.contains("give a file path"))
    }
}
