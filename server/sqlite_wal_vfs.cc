#include "server/sqlite_wal_vfs.h"

#include <sqlite3.h>

#include <cstddef>
#include <mutex>
#include <new>
#include <string>

namespace dipwire::server {
namespace {

constexpr const char* kVfsName = "dipwire-buffered-wal";

// At most this many bytes are gathered: the unix VFS's xWrite fails (with
// SQLITE_FULL) from 128 KiB on. In dipwire-bench's ingest runs a group
// commit of single events writes 3 to 6 frames (4,120 bytes each), one of
// 64-event requests several times this.
constexpr size_t kMaxBuffered = size_t{64} << 10;

// The default VFS, whose files ours wrap.
sqlite3_vfs* Base(sqlite3_vfs* vfs) {
  return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

// Our file: SQLite allocates szOsFile bytes for it, ours followed by the
// base VFS's file. `base_file` points there.
struct File {
  sqlite3_file file;  // first: SQLite's handle is a File*
  sqlite3_file* base_file = nullptr;
  // On a WAL whose writes are gathered, its database file; else null.
  File* db_file = nullptr;
  // On a database file, its WAL while that is open and gathers writes.
  File* wal_file = nullptr;
  // The bytes written at [offset, offset + pending.size()) and not yet
  // passed to the base file; empty when there are none.
  std::string pending;
  sqlite3_int64 offset = 0;
};

File* Of(sqlite3_file* file) { return reinterpret_cast<File*>(file); }
sqlite3_file* BaseFile(sqlite3_file* file) { return Of(file)->base_file; }

int Flush(File* f) {
  if (f->pending.empty()) return SQLITE_OK;
  const int rc = f->base_file->pMethods->xWrite(
      f->base_file, f->pending.data(), static_cast<int>(f->pending.size()),
      f->offset);
  f->pending.clear();
  return rc;
}

int Close(sqlite3_file* file) {
  File* f = Of(file);
  if (f->db_file != nullptr) f->db_file->wal_file = nullptr;
  if (f->wal_file != nullptr) f->wal_file->db_file = nullptr;
  const int flushed = Flush(f);
  const int rc = f->base_file->pMethods->xClose(f->base_file);
  f->~File();
  return flushed != SQLITE_OK ? flushed : rc;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (const int rc = Flush(Of(file)); rc != SQLITE_OK) return rc;
  return BaseFile(file)->pMethods->xRead(BaseFile(file), out, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount,
          sqlite3_int64 offset) {
  File* f = Of(file);
  const auto size = static_cast<size_t>(amount);
  if (f->db_file == nullptr) {
    if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
    return f->base_file->pMethods->xWrite(f->base_file, data, amount, offset);
  }
  if (f->pending.capacity() < kMaxBuffered) f->pending.reserve(kMaxBuffered);
  const bool follows =
      !f->pending.empty() &&
      offset == f->offset + static_cast<sqlite3_int64>(f->pending.size());
  if (!follows || f->pending.size() + size > kMaxBuffered) {
    if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
    f->offset = offset;
  }
  f->pending.append(static_cast<const char*>(data), size);
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (const int rc = Flush(Of(file)); rc != SQLITE_OK) return rc;
  return BaseFile(file)->pMethods->xTruncate(BaseFile(file), size);
}

int Sync(sqlite3_file* file, int flags) {
  if (const int rc = Flush(Of(file)); rc != SQLITE_OK) return rc;
  return BaseFile(file)->pMethods->xSync(BaseFile(file), flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  if (const int rc = Flush(Of(file)); rc != SQLITE_OK) return rc;
  return BaseFile(file)->pMethods->xFileSize(BaseFile(file), size);
}

int Lock(sqlite3_file* file, int level) {
  return BaseFile(file)->pMethods->xLock(BaseFile(file), level);
}

int Unlock(sqlite3_file* file, int level) {
  return BaseFile(file)->pMethods->xUnlock(BaseFile(file), level);
}

int CheckReservedLock(sqlite3_file* file, int* out) {
  return BaseFile(file)->pMethods->xCheckReservedLock(BaseFile(file), out);
}

// Not a flush: SQLite ignores the errors of most file controls, and sends
// none to a WAL.
int FileControl(sqlite3_file* file, int op, void* arg) {
  return BaseFile(file)->pMethods->xFileControl(BaseFile(file), op, arg);
}

int SectorSize(sqlite3_file* file) {
  return BaseFile(file)->pMethods->xSectorSize(BaseFile(file));
}

int DeviceCharacteristics(sqlite3_file* file) {
  return BaseFile(file)->pMethods->xDeviceCharacteristics(BaseFile(file));
}

int ShmMap(sqlite3_file* file, int region, int size, int extend,
           void volatile** out) {
  return BaseFile(file)->pMethods->xShmMap(BaseFile(file), region, size, extend,
                                           out);
}

int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  // On the database file. Lock 0 is the WAL's write lock (wal.c): before
  // it is released, the WAL gets what is gathered, so that nothing of this
  // connection's reaches the WAL later, over another writer's frames. A
  // commit's frames went with its sync; what can be left here is frames a
  // transaction spilled before it rolled back, whose loss on a failed
  // write is harmless.
  File* f = Of(file);
  if (f->wal_file != nullptr && offset == 0 && n == 1 &&
      flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE)) {
    Flush(f->wal_file);
  }
  return BaseFile(file)->pMethods->xShmLock(BaseFile(file), offset, n, flags);
}

void ShmBarrier(sqlite3_file* file) {
  BaseFile(file)->pMethods->xShmBarrier(BaseFile(file));
}

int ShmUnmap(sqlite3_file* file, int delete_flag) {
  return BaseFile(file)->pMethods->xShmUnmap(BaseFile(file), delete_flag);
}

int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  if (const int rc = Flush(Of(file)); rc != SQLITE_OK) return rc;
  return BaseFile(file)->pMethods->xFetch(BaseFile(file), offset, amount, out);
}

int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return BaseFile(file)->pMethods->xUnfetch(BaseFile(file), offset, page);
}

// Version 3 methods; Open checks that the base file's are version 3 too.
constexpr sqlite3_io_methods kMethods = {
    3,
    Close,
    Read,
    Write,
    Truncate,
    Sync,
    FileSize,
    Lock,
    Unlock,
    CheckReservedLock,
    FileControl,
    SectorSize,
    DeviceCharacteristics,
    ShmMap,
    ShmLock,
    ShmBarrier,
    ShmUnmap,
    Fetch,
    Unfetch,
};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
         int* out_flags) {
  File* f = new (file) File();
  f->file.pMethods = nullptr;  // xClose is not called unless set
  f->base_file = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) +
                                                 sizeof(File));
  const int rc =
      Base(vfs)->xOpen(Base(vfs), name, f->base_file, flags, out_flags);
  if (rc != SQLITE_OK || f->base_file->pMethods == nullptr ||
      f->base_file->pMethods->iVersion < 3) {
    // SQLite closes a file whose xOpen failed only when pMethods is set,
    // and ours is not: close the base file ourselves.
    if (f->base_file->pMethods != nullptr) {
      f->base_file->pMethods->xClose(f->base_file);
    }
    f->~File();
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  f->file.pMethods = &kMethods;
  if ((flags & SQLITE_OPEN_WAL) != 0) {
    // Opened through this VFS too, as the connection's files all are.
    File* db = Of(sqlite3_database_file_object(name));
    // Without powersafe overwrite, SQLite pads a commit to a sector and
    // writes the last padding frame's tail after the sync, while the
    // commit is published: such a WAL's writes go straight through.
    const int characteristics =
        db->base_file->pMethods->xDeviceCharacteristics(db->base_file);
    if ((characteristics & SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0) {
      f->db_file = db;
      db->wal_file = f;
    }
  }
  return SQLITE_OK;
}

// The rest of the VFS is the base VFS's.
int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Base(vfs)->xDelete(Base(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Base(vfs)->xAccess(Base(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return Base(vfs)->xFullPathname(Base(vfs), name, size, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) {
  return Base(vfs)->xDlOpen(Base(vfs), name);
}
void DlError(sqlite3_vfs* vfs, int size, char* out) {
  Base(vfs)->xDlError(Base(vfs), size, out);
}
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Base(vfs)->xDlSym(Base(vfs), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) {
  Base(vfs)->xDlClose(Base(vfs), handle);
}
int Randomness(sqlite3_vfs* vfs, int size, char* out) {
  return Base(vfs)->xRandomness(Base(vfs), size, out);
}
int Sleep(sqlite3_vfs* vfs, int micros) {
  return Base(vfs)->xSleep(Base(vfs), micros);
}
int CurrentTime(sqlite3_vfs* vfs, double* out) {
  return Base(vfs)->xCurrentTime(Base(vfs), out);
}
int GetLastError(sqlite3_vfs* vfs, int size, char* out) {
  return Base(vfs)->xGetLastError(Base(vfs), size, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Base(vfs)->xCurrentTimeInt64(Base(vfs), out);
}

}  // namespace

const char* BufferedWalVfsName() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
    // Leaked on purpose: SQLite keeps the pointer for the process's life.
    auto* vfs = new sqlite3_vfs();
    vfs->iVersion = 2;
    vfs->szOsFile = static_cast<int>(sizeof(File)) + base->szOsFile;
    vfs->mxPathname = base->mxPathname;
    vfs->zName = kVfsName;
    vfs->pAppData = base;
    vfs->xOpen = Open;
    vfs->xDelete = Delete;
    vfs->xAccess = Access;
    vfs->xFullPathname = FullPathname;
    vfs->xDlOpen = DlOpen;
    vfs->xDlError = DlError;
    vfs->xDlSym = DlSym;
    vfs->xDlClose = DlClose;
    vfs->xRandomness = Randomness;
    vfs->xSleep = Sleep;
    vfs->xCurrentTime = CurrentTime;
    vfs->xGetLastError = GetLastError;
    vfs->xCurrentTimeInt64 = CurrentTimeInt64;
    sqlite3_vfs_register(vfs, /*makeDflt=*/0);
  });
  return kVfsName;
}

}  // namespace dipwire::server
