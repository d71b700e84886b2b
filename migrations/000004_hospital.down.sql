DROP TABLE predictions, observations;
DROP INDEX patients_ward;
