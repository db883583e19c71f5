package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/openbatch/openbatch/api"
)

// GoMigrations returns the schema migrations written in Go, which both
// databases run after their SQL ones of lower versions (goose orders them
// by version): version 4 fills the filter columns that migration 3 added,
// from each row's JSON body through the same code that writes them.
func (d *Dialect) GoMigrations() []*goose.Migration {
	return []*goose.Migration{
		goose.NewGoMigration(4, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return d.backfillFilterColumns(ctx, tx)
		}}, nil),
	}
}

// backfillBatch is how many rows one read of the backfill decodes.
const backfillBatch = 1000

func (d *Dialect) backfillFilterColumns(ctx context.Context, stx *sql.Tx) error {
	tx := &Tx{Tx: stx, ctx: ctx, d: d}
	for _, t := range []struct {
		table  string
		ft     *filterTable
		decode func([]byte) (any, error)
	}{
		{"tasks", taskFilter, func(b []byte) (any, error) { v := new(api.Task); return v, json.Unmarshal(b, v) }},
		{"jobs", jobFilter, func(b []byte) (any, error) { v := new(api.Job); return v, json.Unmarshal(b, v) }},
		{"pools", poolFilter, func(b []byte) (any, error) { v := new(api.Pool); return v, json.Unmarshal(b, v) }},
	} {
		update := `UPDATE ` + t.table + ` SET seq=seq` + t.ft.written(true) + ` WHERE seq=?`
		var after int64
		for {
			type row struct {
				seq  int64
				vals []any
			}
			var batch []row
			rows, err := tx.Query(`SELECT seq, body FROM `+t.table+` WHERE seq > ? ORDER BY seq LIMIT ?`, after, backfillBatch)
			if err != nil {
				return fmt.Errorf("backfill %s: %w", t.table, err)
			}
			for rows.Next() {
				var r row
				var body []byte
				if err := rows.Scan(&r.seq, &body); err != nil {
					rows.Close()
					return fmt.Errorf("backfill %s: %w", t.table, err)
				}
				v, err := t.decode(body)
				if err != nil {
					rows.Close()
					return fmt.Errorf("backfill %s: decode row %d: %w", t.table, r.seq, err)
				}
				r.vals = t.ft.values(v)
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("backfill %s: %w", t.table, err)
			}
			for _, r := range batch {
				if _, err := tx.Exec(update, append(r.vals, r.seq)...); err != nil {
					return fmt.Errorf("backfill %s row %d: %w", t.table, r.seq, err)
				}
				after = r.seq
			}
			if len(batch) < backfillBatch {
				break
			}
		}
	}
	return nil
}
