import NIOCore

/// Runs Swift tasks on a NIO event loop, so that a worker's tasks, its Valkey connections and
/// its HTTP connections share one thread. Without it every `await` on a NIO future resumes on
/// the global executor's threads: a thread hop (two context switches) per step of every payment,
/// which on two shared cores is where the request path's tail came from.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension EventLoop {
    /// Sleeps on this loop's own timer. `Task.sleep` would wake a thread of the global executor
    /// first, then hop back here: two more context switches per pause, for every worker loop
    /// that paces itself.
    func sleep(milliseconds: Int64) async {
        try? await scheduleTask(in: .milliseconds(milliseconds)) {}.futureResult.get()
    }
}
