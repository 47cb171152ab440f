# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make this checkout importable as ``ansible_collections.lvs.cluster``.

Ansible imports collection code by that name; the tests do the same, through a
temporary tree ansible_collections/lvs/cluster -> the repository root.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _collection_root():
    marker = os.sep + os.path.join('ansible_collections', 'lvs', 'cluster')
    if REPO_ROOT.endswith(marker):
        # already checked out inside a collections tree
        return os.path.dirname(os.path.dirname(os.path.dirname(REPO_ROOT)))
    base = tempfile.mkdtemp(prefix='lvs-cluster-unit-')
    namespace = os.path.join(base, 'ansible_collections', 'lvs')
    os.makedirs(namespace)
    os.symlink(REPO_ROOT, os.path.join(namespace, 'cluster'))
    atexit.register(shutil.rmtree, base, True)
    return base


_ROOT = _collection_root()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
