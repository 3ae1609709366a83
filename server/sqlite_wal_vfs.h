#ifndef DIPWIRE_SERVER_SQLITE_WAL_VFS_H_
#define DIPWIRE_SERVER_SQLITE_WAL_VFS_H_

namespace dipwire::server {

// The name of an SQLite VFS that is the default VFS except for write-ahead
// logs: a WAL's writes are gathered in memory while they are contiguous,
// up to 64 KiB, and reach the file as one write before anything else is
// done with it (a sync, a read, a truncation, its size, a fetch, a
// non-contiguous write, closing) and before the WAL's write lock is
// released.
//
// SQLite writes each WAL frame as two writes, its 24-byte header and its
// page, so a commit of n pages costs 2n pwrite calls; through this VFS it
// costs one per 64 KiB, followed by the same fsync. Durability is
// unchanged: nothing was durable before the sync, and the sync writes
// everything first. Another connection reads a frame only once the
// wal-index says it is committed, which with synchronous=FULL is after the
// commit's sync, hence after the frame reached the file. So:
//  - connections opened with this VFS must write with synchronous=FULL
//    (with NORMAL a commit has no sync, and a committed frame could stay
//    in memory while another connection reads it);
//  - a WAL whose database file lacks SQLITE_IOCAP_POWERSAFE_OVERWRITE is
//    not gathered (SQLite then writes part of a commit after its sync).
//
// Registered on first call (thread-safe); never the default VFS.
const char* BufferedWalVfsName();

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_SQLITE_WAL_VFS_H_
