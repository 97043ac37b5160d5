"""Reports: a dataset's report (`dataset.DatasetReport`, what the notebook calls), its
figures as pure functions (`figures`), its HTML fragments (`html`) and loaders (`loaders`)."""
