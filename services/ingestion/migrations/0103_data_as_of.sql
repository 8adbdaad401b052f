-- When an upload's data was current, if the agency said (an extract taken before the push).
ALTER TABLE uploads ADD COLUMN data_as_of timestamptz;
