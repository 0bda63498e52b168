package indexfile

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"unsafe"
)

// Stream saves an index while its arrays are still being made: each array
// handed to Put is written (and checksummed) by a goroutine of the
// stream's own while the caller makes the next one, and Commit writes the
// section table and renames the file into place. A census of tens of
// millions of objects writes hundreds of MB, which on the machines we run
// on takes about as long as laying them out (docs/design.md): the two
// overlap. The file is the same as Builder writes but for the room left
// after the table (streamSections entries) and zeros between arrays left
// as holes; readers accept both.
type Stream struct {
	c              *Cache
	key            Key
	schema         Schema
	label          string
	f              *os.File
	tmp, final     string
	off            uint64 // where the next array goes
	entries        []entry
	names          map[string]bool
	queue          chan streamJob
	done           chan error
	closed, failed bool
}

type streamJob struct {
	e    entry
	data []byte
}

// streamSections is the section table's room in a streamed file.
const streamSections = 64

// NewStream starts saving the index of key under schema; label is as for
// NewBuilder.
func (c *Cache) NewStream(key Key, schema Schema, label string) (*Stream, error) {
	if err := c.checkDir(true); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(c.Dir, tmpPrefix+"*"+fileSuffix)
	if err != nil {
		return nil, fmt.Errorf("index cache: %w", err)
	}
	s := &Stream{c: c, key: key, schema: schema, label: label, f: f, tmp: f.Name(),
		final: filepath.Join(c.Dir, fileName(key, schema)),
		off:   alignUp(headerSize + streamSections*entrySize), names: map[string]bool{},
		queue: make(chan streamJob, streamSections), done: make(chan error, 1)}
	go s.write()
	return s, nil
}

// write writes the arrays queued, in order, until the queue is closed;
// after the first error it only drains the queue.
func (s *Stream) write() {
	var err error
	for job := range s.queue {
		if err != nil {
			continue
		}
		if _, err = s.f.WriteAt(job.data, int64(job.e.off)); err == nil {
			_, err = s.f.WriteAt(blockCRCs(job.data), int64(job.e.crcOff))
		}
	}
	s.done <- err
}

// Put queues v as the array named name (at most 32 bytes, unique in the
// index). v must not change until Commit or Abort returns.
func Put[T Elem](s *Stream, name string, v []T) {
	if s.closed {
		panic("indexfile: Put after Commit or Abort")
	}
	if len(name) == 0 || len(name) > maxNameLen || s.names[name] || len(s.entries) == streamSections {
		panic(fmt.Sprintf("indexfile: bad or repeated array name %q, or more than %d arrays", name, streamSections))
	}
	s.names[name] = true
	var data []byte
	if len(v) > 0 {
		var zero T
		data = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(zero)))
	}
	e := entry{name: name, typ: elemType[T](), off: s.off, nbytes: uint64(len(data))}
	e.crcOff = alignUp(e.off + e.nbytes)
	s.off = alignUp(e.crcOff + 4*blocks(e.nbytes))
	s.entries = append(s.entries, e)
	s.queue <- streamJob{e, data}
}

// wait ends the writing goroutine and returns its error.
func (s *Stream) wait() error {
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.queue)
	return <-s.done
}

// Abort stops the stream and removes what it wrote.
func (s *Stream) Abort() {
	s.wait()
	s.f.Close()
	os.Remove(s.tmp)
}

// Commit waits for the arrays to be written, writes the header and the
// section table, renames the file into place (replacing any) and trims
// the cache to its limit; it returns the file's path. An index larger
// than the limit is not saved.
func (s *Stream) Commit() (string, error) {
	err := s.wait()
	size := s.off
	if err == nil && int64(size) > s.c.limit() {
		err = fmt.Errorf("index of %d MB is larger than the cache limit of %d MB", size>>20, s.c.limit()>>20)
	}
	if err == nil {
		table := make([]byte, len(s.entries)*entrySize)
		for i := range s.entries {
			s.entries[i].encode(table[i*entrySize:])
		}
		h := header{format: FormatVersion, schema: s.schema, key: s.key, sections: uint32(len(s.entries)),
			block: blockSize, fileSize: size, tableCRC: crc32.ChecksumIEEE(table), label: s.label}
		if _, err = s.f.WriteAt(append(h.encode(), table...), 0); err == nil {
			err = s.f.Truncate(int64(size))
		}
	}
	// No fsync (as Save).
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		os.Remove(s.final + stampSuffix) // of the file this one replaces
		err = os.Rename(s.tmp, s.final)
	}
	if err != nil {
		os.Remove(s.tmp)
		return "", fmt.Errorf("saving index %s: %w", s.final, err)
	}
	s.c.prune(s.final)
	return s.final, nil
}
