import HTTPServerKit
import NIOEmbedded
import Testing

@Suite("Connection roster: the oldest idle connection makes room")
struct ConnectionRosterTests {
    @Test("the oldest idle one is taken; busy ones and those with no activity yet are skipped")
    func oldestIdle() {
        var roster = ConnectionRoster()
        let (unknown, busy, idleOld, idleNew) = (
            EmbeddedChannel(), EmbeddedChannel(), EmbeddedChannel(), EmbeddedChannel()
        )
        let busyActivity = ConnectionActivity()
        busyActivity.set(idle: false)
        roster.insert(unknown)
        roster.insert(busy, activity: busyActivity)
        roster.insert(idleOld, activity: ConnectionActivity())
        roster.insert(idleNew)
        roster.attach(ConnectionActivity(), to: idleNew)
        #expect(roster.count == 4)
        #expect(roster.takeOldestIdle() === idleOld)
        #expect(roster.takeOldestIdle() === idleNew)
        #expect(roster.takeOldestIdle() == nil)
        #expect(roster.count == 2)
        busyActivity.set(idle: true)
        #expect(roster.takeOldestIdle() === busy)
    }

    @Test("a removed connection is never taken, and the count follows")
    func removed() {
        var roster = ConnectionRoster()
        let (first, second) = (EmbeddedChannel(), EmbeddedChannel())
        roster.insert(first, activity: ConnectionActivity())
        roster.insert(second, activity: ConnectionActivity())
        roster.remove(first)
        #expect(roster.count == 1)
        #expect(roster.takeOldestIdle() === second)
        #expect(roster.count == 0)
    }
}
