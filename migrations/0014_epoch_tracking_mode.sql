-- carbond schema v14: how an epoch's energy was attributed (issue 21),
-- CodeCarbon's tracking_mode: 'machine' (the whole machine's energy) or
-- 'process' (the worker's share). NULL: stored before v14, which was machine.
ALTER TABLE epochs ADD COLUMN tracking_mode TEXT;
