-- Whether a replace upload may commit without data rows (emptying the dataset on purpose).
ALTER TABLE uploads ADD COLUMN allow_empty boolean NOT NULL DEFAULT false;
