# gst-luma examples: what the Python examples share (luma-wait-many.py,
# luma-ges-timeline.py import it from their own folder).
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Output and files, as the Python examples handle them."""

import errno
import fcntl
import os
import sys


def say(*args, file=None, **kwargs):
    """print (), flushed. A reader that went away (a closed pipe:
    `| head -1`, a log collector restarted) does not stop the work: the
    BrokenPipeError of a print in a bus callback skipped what follows it
    (the main loop was never quit), and the rest goes nowhere."""
    file = sys.stdout if file is None else file
    kwargs.pop("flush", None)
    try:
        print(*args, file=file, flush=True, **kwargs)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, file.fileno())
        os.close(devnull)


def claim_part(part_path):
    """Makes OUTPUT.part this run's alone while it writes it (flock):
    another run of the same command used to truncate it, or remove it
    when it failed. Returns the lock's descriptor, to close once the file
    is renamed or removed; BlockingIOError when another run holds it,
    OSError when it cannot be written."""
    while True:
        fd = os.open(part_path, os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            # A file system without locks (NFS without lockd) is
            # written unlocked, as before the lock was taken
            if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                return fd
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(part_path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        # the run that held it renamed or removed it meanwhile
        os.close(fd)
