import ArgumentParser
import Foundation
import Synchronization

/// The signal that asked training to stop (SIGINT or SIGTERM), 0 while none has.
let interruptSignal = Atomic<Int32>(0)

enum Interruption {
    /// The first SIGINT (Ctrl-C) or SIGTERM (what Slurm and Kubernetes send) asks training to
    /// stop after the current batch and save its checkpoint; a second one ends the process at once.
    static func install() {
        // A parent may start us with these signals blocked (a thread pool's mask is inherited
        // through fork and posix_spawn): unblock them, or a scheduler's SIGTERM never arrives.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { received in
                if interruptSignal.exchange(received, ordering: .relaxed) != 0 { _exit(128 + received) }
            }
        }
    }

    /// Under MPI, the signal another rank received: this rank stops and exits as if it had too.
    static func agree(_ signal: Int32) {
        _ = interruptSignal.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
    }

    /// The shell's convention for a process ended by a signal: 128 + its number (130, 143).
    static var exitStatus: Int32 { 128 + max(interruptSignal.load(ordering: .relaxed), SIGINT) }
}
